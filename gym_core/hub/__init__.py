"""The hub: finding environments beyond the built-in catalog, checking them without a model,
scaffolding new ones, and publishing them as wheels with a quality card.

    sources     where environments come from: hub directories and installed packages
    solutions   reference solutions and cheat probes, the model-free proof that a verifier
                pays for right answers and for nothing else
    validate    `gym hub validate`: loads what the checks need, starts the server, reports
    checks      the checks that run against the server; `player` plays the solutions and
                `probes` sends the malformed requests; `report` holds the results
    build       the environment project as a wheel, offline
    publish     `gym hub publish`: validate, build, measure (`baseline`), add to a hub
    install     installing a published wheel, once a hash the user trusts vouches for it
    pins        those hashes: `--sha256`, an index, the user's pins (trust on first use)
    scaffold    `gym hub new`: a working environment project to start from (`template/`)
    readme      the README's environment table, generated from the catalog
"""
