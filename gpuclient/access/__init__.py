"""Access to the services: HTTP errors and timeouts, the bounded pool,
Placement and Nova (one method per endpoint, each with its microversion).
Nothing here imports the model: what a GPU is is decided elsewhere."""
