"""Lead scoring: rule grades and scores, a predictive model, and reasons a rep can read."""
