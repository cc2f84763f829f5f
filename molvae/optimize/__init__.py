"""Property-guided search in the latent space: objectives and constraints, the scorer, the oracle that decodes
and scores under a budget, the search engines (``engines/``, one module each, registered in one table) and the
surrogates that guide them (``surrogates/``)."""
