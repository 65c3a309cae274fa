"""Stand-in coordinator that speaks the Thunderline API, for tests and demos.

It is self-contained: it uses FastAPI, uvicorn, SQLite and ``requests``, never
the ``cerebros_client`` client it exists to test.
"""

from .app import create_app
from .faults import Fault, FaultSet
from .profiles import PROFILES, STRICT, THUNDERLINE_COMPAT, Profile, get_profile
from .security import RateLimit
from .seed import AdminClient, seed_job
from .server import CoordinatorServer
from .store import Store

__all__ = [
    "PROFILES",
    "STRICT",
    "THUNDERLINE_COMPAT",
    "AdminClient",
    "CoordinatorServer",
    "Fault",
    "FaultSet",
    "Profile",
    "RateLimit",
    "Store",
    "create_app",
    "get_profile",
    "seed_job",
]
