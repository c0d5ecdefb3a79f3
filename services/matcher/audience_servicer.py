"""AudienceService: translates messages, calls the audience use case, maps errors."""

from __future__ import annotations

import grpc

from profilematcher.matcher.v1 import audience_service_pb2 as pb
from profilematcher.matcher.v1 import audience_service_pb2_grpc
from services.codecs.timestamps import datetime_from_timestamp, timestamp_from_datetime
from services.domain.errors import InvalidInput
from services.matcher.audience import AudienceEstimate, EstimateAudience
from services.matcher.audience_draft import draft_campaign
from services.transport.status import mapped_errors, time_left


class AudienceServicer(audience_service_pb2_grpc.AudienceServiceServicer):
    def __init__(self, audiences: EstimateAudience) -> None:
        self._audiences = audiences

    @mapped_errors
    def EstimateAudience(
        self, request: pb.EstimateAudienceRequest, context: grpc.ServicerContext
    ) -> pb.EstimateAudienceResponse:
        at = datetime_from_timestamp(request.at, "at") if request.HasField("at") else None
        timeout = time_left(context)
        kind = request.WhichOneof("campaign")
        if kind == "catalog_campaign":
            ref = request.catalog_campaign
            estimate = self._audiences.of_catalog_campaign(ref.game, ref.name, at, timeout=timeout)
        elif kind == "draft":
            estimate = self._audiences.of_draft(
                lambda catalog: draft_campaign(request.draft, catalog, request.segments),
                at,
                timeout=timeout,
            )
        else:
            raise InvalidInput("campaign", "set catalog_campaign or draft")
        return _response(estimate)


def _response(estimate: AudienceEstimate) -> pb.EstimateAudienceResponse:
    return pb.EstimateAudienceResponse(
        matched=estimate.matched,
        scanned=estimate.scanned,
        total=estimate.total,
        unevaluable_clauses=estimate.unevaluable,
        exact=not estimate.unevaluable,
        live=estimate.live,
        catalog_version=estimate.catalog_version,
        at=timestamp_from_datetime(estimate.at),
    )
