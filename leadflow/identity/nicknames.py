"""A small bundled nickname table (English given names): nickname -> canonical given name.

Matching compares canonical forms, so 'Bob Smith' and 'Robert Smith' agree on the first name.
Names with several canonical forms (e.g. 'Alex': Alexander/Alexandra) map to one, which is
enough for a matching key; the surname and other evidence still have to agree.
"""

from __future__ import annotations

from functools import lru_cache

_TABLE = """
alexander: alex al sandy xander sasha
alexandra: alex alexa sandra sasha lexi
andrew: andy drew
anthony: tony ant
barbara: barb babs
benjamin: ben benny benji
catherine: cathy cat kate katie kathy katherine kathryn
charles: charlie chuck chas
christopher: chris kit topher
christine: chris chrissy tina christina
daniel: dan danny
david: dave davey
deborah: debbie deb debra
donald: don donny
dorothy: dot dottie
edward: ed eddie ted ned
elizabeth: liz lizzie beth betty eliza libby elisabeth
emily: em emmy
eugene: gene
frances: fran frankie
francis: frank
frederick: fred freddie
gabriel: gabe
gerald: gerry jerry
gregory: greg
harold: hal harry
henry: hank harry
jacob: jake
james: jim jimmy jamie
jeffrey: jeff
jennifer: jen jenny
jessica: jess jessie
john: johnny jack jon
jonathan: jon jonny
joseph: joe joey
joshua: josh
judith: judy
kenneth: ken kenny
kimberly: kim
lawrence: larry
leonard: leo len lenny
margaret: maggie meg peggy marge greta
matthew: matt
michael: mike mikey mick
nathaniel: nate nathan nat
nicholas: nick nicky
pamela: pam
patricia: pat patty trish tricia
patrick: pat paddy
peter: pete
philip: phil
rebecca: becky becca
richard: rick ricky dick rich richie
robert: rob bob bobby robbie bert
ronald: ron ronnie
samantha: sam sammy
samuel: sam sammy
stephen: steve stevie steven
susan: sue susie suzanne
theodore: ted teddy theo
thomas: tom tommy
timothy: tim timmy
victoria: vicky tori
vincent: vince vinny
walter: walt wally
william: will bill billy willie liam
zachary: zach zack
"""


@lru_cache(maxsize=1)
def nickname_map() -> dict[str, str]:
    """nickname -> canonical (lower-case ASCII); canonical names map to themselves implicitly."""
    out: dict[str, str] = {}
    for line in (_TABLE + _TABLE_INTL).strip().splitlines():
        if ":" not in line:
            continue
        canon, nicks = line.split(":")
        for n in nicks.split():
            out.setdefault(n.strip(), canon.strip())
    return out

# Given names from other languages with their usual short forms.
_TABLE_INTL = """
johannes: hans johann
wolfgang: wolf
francesco: franco
giuseppe: beppe peppe
alejandro: alex
francisco: paco fran pancho
guillaume: will
jacqueline: jackie
stephen: steven
"""


@lru_cache(maxsize=1)
def equivalent_pairs() -> frozenset[str]:
    """'a|b' for every two given names the table says can be the same person (both orders)."""
    groups: list[set[str]] = []
    for line in (_TABLE + _TABLE_INTL).strip().splitlines():
        if ":" not in line:
            continue
        canon, nicks = line.split(":")
        groups.append({canon.strip(), *nicks.split()})
    out = set()
    for g in groups:
        for x in g:
            for y in g:
                if x != y:
                    out.add(f"{x}|{y}")
    return frozenset(out)
