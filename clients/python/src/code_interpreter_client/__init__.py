"""Typed client for the code-interpreter gateway (standard library only).

    from code_interpreter_client import Client

    client = Client("http://127.0.0.1:3874", token)
    with client.session() as session:
        result = session.run("print(6 * 7)")
        print(result.stdout)             # 42

See docs/python-client.md in the repository for the whole API.
"""

from ._version import __version__
from .client import Client, Session
from .errors import *  # noqa: F401,F403  (the exception classes are part of the API)
from .errors import __all__ as _error_names
from .models import *  # noqa: F401,F403
from .models import __all__ as _model_names

__all__ = ["__version__", "Client", "Session", *_error_names, *_model_names]
