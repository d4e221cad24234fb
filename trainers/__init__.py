"""What a trainer imports: adapters from rollout results to a trainer's batch, and the live
policy that serves a torch trainer's own model. Needs the `train` extra (torch); the services
never import it."""
