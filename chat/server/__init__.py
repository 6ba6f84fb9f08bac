"""One server process: the ASGI app that composes everything, and its surroundings.

``app`` builds the FastAPI app and its lifespan (the only module that imports
the endpoints); ``embedded`` runs the private Redis of the default setup;
``logs`` configures JSON logging with no access log.
"""
