"""The websocket side: the two endpoints and what carries their events.

``visitor`` and ``counselor`` are the endpoints; ``frames`` reads frames with
limits for both; ``connection`` delivers a session's events in order to one
socket, fed by the process's pub/sub hub (``chat.store.pubsub``); ``watcher``
sends queue updates and runs the grace and idle timers.
"""
