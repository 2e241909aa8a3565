"""Local verification against the service's PostgreSQL: an app given the keys and the
database URL knows the user and sees a revocation, without asking the service."""

from __future__ import annotations

import time

from onebar.integrations.wsgi import Identity
from onebar.sessions import SessionCodec
from onebar.store.postgres import PostgresStore

from ..live import TEST_SECRET_KEYS


def test_local_verifier_reads_the_services_postgresql_by_url(postgres_url) -> None:  # type: ignore[no-untyped-def]
    service = PostgresStore(postgres_url)  # the service made the schema and holds the sessions
    identity = Identity.from_config({"SERVICE_URL": "http://localhost:9", "SECRET_KEYS": list(TEST_SECRET_KEYS),
                                     "DATABASE": postgres_url, "CACHE_TTL": 0})
    try:
        ada = service.create_user("ada@example.com", "Ada Lovelace", "h")
        sid = service.create_session(ada.id, expires_at=int(time.time()) + 3600)
        cookie = SessionCodec(list(TEST_SECRET_KEYS), 3600).encode(sid, ada.id)
        user = identity.verifier.verify(cookie)
        assert user is not None and user.name == "Ada Lovelace"
        service.revoke_session(sid)  # signed out on the service
        assert identity.verifier.verify(cookie) is None
    finally:
        identity.verifier._store.close()  # type: ignore[attr-defined]
        service.close()
