"""Every domain's tables, imported together so Alembic sees the whole schema."""

from vetrina.accounts.models import ApiToken, LoginSession, User
from vetrina.ads.models import AdDecision, AdEvent, Campaign, CampaignDay, VideoAdSettings
from vetrina.analytics.models import DailyStats, DailyViewer, PlayerEvent, RollupState, SecondStats, ViewerSpan
from vetrina.catalog.models import Channel, ChannelFollow, Product, ProductImage, ProductVariant
from vetrina.commerce.models import Order, OrderEvent, OrderItem, RefundRequest
from vetrina.db import Base
from vetrina.jobs import PeriodicRun
from vetrina.live.models import LiveShow
from vetrina.media.models import TranscodeChunk, Video
from vetrina.partners.models import FeedFailure, FeedItem, FeedRun, PartnerFeed
from vetrina.payments.models import IdempotencyKey, LedgerAccount, LedgerTransfer, WebhookDelivery, WebhookEndpoint
from vetrina.rights.models import Licence, LicenceTerritory
from vetrina.shoppable.models import AutotagRun, ProductTag, TagProposal
from vetrina.studio.models import Spot, StudioAsset

__all__ = [
    "AdDecision",
    "AdEvent",
    "ApiToken",
    "AutotagRun",
    "Base",
    "Campaign",
    "CampaignDay",
    "Channel",
    "DailyStats",
    "DailyViewer",
    "ChannelFollow",
    "FeedFailure",
    "FeedItem",
    "FeedRun",
    "PeriodicRun",
    "IdempotencyKey",
    "LedgerAccount",
    "LedgerTransfer",
    "Licence",
    "LicenceTerritory",
    "LiveShow",
    "LoginSession",
    "Order",
    "OrderEvent",
    "OrderItem",
    "PartnerFeed",
    "PlayerEvent",
    "Product",
    "ProductImage",
    "ProductTag",
    "ProductVariant",
    "RefundRequest",
    "RollupState",
    "SecondStats",
    "Spot",
    "StudioAsset",
    "TagProposal",
    "User",
    "TranscodeChunk",
    "Video",
    "VideoAdSettings",
    "ViewerSpan",
    "WebhookDelivery",
    "WebhookEndpoint",
]
