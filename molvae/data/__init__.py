"""From molecule files to what the network reads: the SELFIES vocabulary, cleaned and tokenised datasets, property scaling and condition vectors."""
