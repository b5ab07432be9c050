"""A threaded stdlib WSGI server bound to 127.0.0.1, for the sandbox's
services. Light on purpose: the sandbox serves one operator or one test run."""
import selectors
import socketserver
import sys
import threading
from wsgiref import simple_server


class _Server(socketserver.ThreadingMixIn, simple_server.WSGIServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class _QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


def _green_select() -> bool:
    """Whether eventlet patched `select` (the releases whose Nova runs on
    eventlet): socketserver's PollSelector, chosen when socketserver was
    imported, would then block every green thread in its poll()."""
    eventlet = sys.modules.get('eventlet')
    return bool(eventlet) and eventlet.patcher.is_monkey_patched('select')


def serve(app, port: int, name: str, background: bool = True):
    if _green_select():
        socketserver._ServerSelector = selectors.SelectSelector
    server = simple_server.make_server(
        '127.0.0.1', port, app, server_class=_Server,
        handler_class=_QuietHandler)
    if not background:
        server.serve_forever()
    threading.Thread(target=server.serve_forever, name=name,
                     daemon=True).start()
    return server
