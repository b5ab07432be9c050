"""Thin access to Nova: servers and flavors, each call at the microversion
it needs (2.86 and later: Nova validates flavor extra specs)."""
from __future__ import annotations

from gpuclient import http

MICROVERSION = '2.86'


class Compute:
    def __init__(self, service: http.Service):
        self.service = service

    def server(self, uuid: str) -> dict | None:
        try:
            return self.service.get('/servers/%s' % uuid,
                                    MICROVERSION)['server']
        except http.NotFound:
            return None
