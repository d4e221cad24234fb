"""The hub: finding environments beyond the built-in catalog, checking them without a model,
scaffolding new ones, and publishing them as wheels with a quality card.

    sources     where environments come from: installed packages and hub directories
    solutions   reference solutions, the model-free proof that a verifier works
    validate    `gym hub validate`: the checks, run against the real resources server
    build       the environment project as a wheel
    publish     `gym hub publish`: validate, build, measure, add to a hub directory
    install     installing a published wheel on first use
    scaffold    `gym hub new`: a working environment project to start from
    readme      the README's environment table, generated from the catalog
"""
