"""The HTTP side, on [http] listen: the server (server) and one module per page or endpoint
(unsubscribe, health, metrics), so that a new page is a new module. Imports db, mail, config
and the kernel; imported only by the runtime."""
