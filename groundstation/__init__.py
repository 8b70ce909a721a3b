"""Ground station: the station daemon, its clients and the ``ttc`` command line."""
