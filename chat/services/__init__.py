"""The services both endpoint families share, built on the store adapters.

``runtime`` is what one server process holds (settings, Redis, SQL, the pub/sub
hub, the clock); ``auth`` has tokens, password hashing and rate limits;
``accounts`` manages counselor accounts; ``intake`` is what a visitor meets
before a counselor (hours, triage, the wait estimate); ``addresses`` finds the
client address, which is only ever hashed.
"""
