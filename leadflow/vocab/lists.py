"""Small bundled reference lists used by cleaning (kept in code so they ship with the package).

They are deliberately short and conservative: a domain missing from FREE_MAIL only means a
person may get an account they should not; the lists can be extended here without other changes.
"""

from __future__ import annotations

from typing import Final

# Consumer mailbox providers: never create or match an account from these domains.
FREE_MAIL: Final = frozenset("""
gmail.com googlemail.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es yahoo.it yahoo.co.in
yahoo.com.br ymail.com rocketmail.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.it
hotmail.es outlook.com outlook.fr outlook.de live.com live.co.uk live.fr msn.com aol.com aim.com
icloud.com me.com mac.com mail.com email.com gmx.com gmx.de gmx.net gmx.at gmx.ch web.de
t-online.de freenet.de orange.fr wanadoo.fr free.fr laposte.net sfr.fr libero.it virgilio.it
tiscali.it alice.it btinternet.com sky.com virginmedia.com ntlworld.com talktalk.net comcast.net
verizon.net att.net sbcglobal.net bellsouth.net cox.net charter.net earthlink.net shaw.ca
rogers.com sympatico.ca bigpond.com optusnet.com.au proton.me protonmail.com pm.me tutanota.com
zoho.com yandex.ru yandex.com mail.ru rambler.ru qq.com 163.com 126.com sina.com naver.com
daum.net hanmail.net rediffmail.com seznam.cz wp.pl o2.pl interia.pl uol.com.br bol.com.br
terra.com.br hushmail.com fastmail.com fastmail.fm inbox.com lycos.com
example.com example.org example.net
""".split())

# Throw-away mailbox providers.
DISPOSABLE: Final = frozenset("""
mailinator.com guerrillamail.com guerrillamail.net sharklasers.com grr.la 10minutemail.com
10minutemail.net tempmail.com temp-mail.org tempmail.net throwawaymail.com yopmail.com yopmail.fr
trashmail.com trashmail.de getnada.com nada.email dispostable.com maildrop.cc mailnesia.com
mintemail.com mohmal.com fakeinbox.com spamgourmet.com mailcatch.com emailondeck.com
burnermail.io tempr.email discard.email moakt.com mytemp.email tempinbox.com spambox.us
33mail.com mailtothis.com jetable.org trash-mail.com byom.de
""".split())

# Local parts of shared / role mailboxes (compared after removing a +tag).
ROLE_LOCAL_PARTS: Final = frozenset("""
info admin administrator sales marketing support help helpdesk contact contactus office hello
hi team enquiries enquiry inquiries inquiry billing accounts accounting finance hr jobs careers
recruiting noreply no-reply donotreply postmaster webmaster hostmaster abuse security privacy
legal press media pr service services customerservice feedback orders purchasing procurement
reception mail general it ops operations dev devops root test
""".split())

# Filler addresses: what people type to get past a required address field. Many strangers
# type the same one, so it names no one (identity reads it as no address; ``vocab.mailboxes``).
# Local parts are compared after removing a +tag, dots, dashes, underscores and trailing digits
# (``no.email1`` is ``noemail``); a local part of one character repeated (``xxx``) is filler too.
PLACEHOLDER_LOCAL_PARTS: Final = frozenset("""
noemail nomail noaddress noemailaddress noemailprovided noemailgiven emailnotprovided none nope
null nil na nan unknown notprovided notavailable notgiven declined refused donotemail dontemail
donotcontact nobody noone nothing test testing tester testuser testemail asdf asdfasdf asdfgh
qwerty fake fakeemail dummy sample placeholder abc abcd email youremail yourname firstlast
firstnamelastname
""".split())

# Domains whose name is filler (``test.com``, ``none.com``). Reserved test domains (RFC 2606:
# ``acme.test``) are not: undeliverable, but not shared; the local part still names someone.
PLACEHOLDER_DOMAIN_WORDS: Final = frozenset("""
test testing none noemail nomail noaddress null nil na unknown fake fakeemail dummy asdf qwerty
sample placeholder domain yourdomain yourcompany mycompany company notprovided
""".split())

# Company legal-form suffixes set aside for matching (compared after punctuation removal).
LEGAL_SUFFIXES: Final = (
    "incorporated", "inc", "corporation", "corp", "company", "co", "llc", "l l c", "llp", "lp",
    "limited", "ltd", "plc", "gmbh", "gmbh co kg", "co kg", "kg", "ag", "se", "sa", "s a", "sas",
    "s a s", "sarl", "s a r l", "sl", "s l", "srl", "s r l", "spa", "s p a", "bv", "b v", "nv",
    "n v", "oy", "oyj", "ab", "as", "a s", "asa", "aps", "kk", "k k", "pty", "pty ltd",
    "pte", "pte ltd", "pvt", "pvt ltd", "private limited", "sdn bhd", "bhd", "ltda", "sa de cv",
)

# Country names and codes pycountry does not know, lower-cased -> ISO 3166 alpha-2.
COUNTRY_ALIASES: Final[dict[str, str]] = {
    "usa": "US", "u.s.a.": "US", "u.s.": "US", "us of a": "US", "america": "US",
    "united states of america": "US", "the united states": "US", "uk": "GB", "u.k.": "GB",
    "great britain": "GB", "britain": "GB", "england": "GB", "scotland": "GB", "wales": "GB",
    "northern ireland": "GB", "south korea": "KR", "korea": "KR", "republic of korea": "KR",
    "north korea": "KP", "russia": "RU", "uae": "AE", "emirates": "AE", "deutschland": "DE",
    "holland": "NL", "the netherlands": "NL", "czech republic": "CZ", "czechia": "CZ",
    "vietnam": "VN", "iran": "IR", "taiwan": "TW", "bolivia": "BO", "venezuela": "VE",
    "tanzania": "TZ", "syria": "SY", "laos": "LA", "moldova": "MD", "macedonia": "MK",
    "ivory coast": "CI", "cote d'ivoire": "CI", "brasil": "BR", "espana": "ES", "españa": "ES",
    "italia": "IT", "suisse": "CH", "schweiz": "CH", "österreich": "AT", "osterreich": "AT",
    "turkey": "TR", "türkiye": "TR", "hong kong": "HK", "macau": "MO", "palestine": "PS",
    "vatican": "VA", "burma": "MM", "swaziland": "SZ", "cape verde": "CV", "micronesia": "FM",
    "saudi": "SA", "ksa": "SA", "kingdom of saudi arabia": "SA", "drc": "CD", "congo": "CG",
    "the bahamas": "BS", "the gambia": "GM", "east timor": "TL", "brunei": "BN",
    "singapore": "SG", "india": "IN", "nippon": "JP", "prc": "CN", "mainland china": "CN",
}

# What exports write in a number field that was not answered: read as missing, never as a
# category of its own (so "visits: ?" does not turn a count into text). Matched trimmed and
# case-folded.
NO_VALUE_WORDS: Final = frozenset({
    "?", "??", "-", "--", "---", ".", "n/a", "na", "n.a.", "nan", "none", "null", "nil",
    "unknown", "not known", "not available", "not provided", "undefined", "missing", "select",
    "#n/a", "#value!", "#div/0!", "#null!", "#num!", "#ref!", "#name?",
})
