"""Every domain's tables, imported together so Alembic sees the whole schema."""

from vetrina.accounts.models import ApiToken, LoginSession, User
from vetrina.db import Base
from vetrina.media.models import Video

__all__ = ["ApiToken", "Base", "LoginSession", "User", "Video"]
