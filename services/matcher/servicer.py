"""ProfileMatcherService: translates messages, calls the matcher's use cases, maps errors."""

from __future__ import annotations

from collections.abc import Mapping

import grpc
from google.protobuf import struct_pb2

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from profilematcher.profiles.v1 import profile_pb2
from services.codecs.profile_message import profile_from_message
from services.codecs.struct_value import json_from_value
from services.codecs.timestamps import datetime_from_timestamp
from services.domain.errors import DomainError
from services.domain.profile import JSONValue
from services.matcher.assignment_messages import AssignmentEncoder
from services.matcher.client_config import ClientConfig, ServeClientConfig
from services.matcher.dry_run import MatchDryRun
from services.matching.explain import Explanation, Outcome
from services.transport.status import client_message, code_number, mapped_errors, time_left

# The `assignments` field numbers of the responses, for AssignmentEncoder.
_CONFIG_ASSIGNMENTS = pb.GetClientConfigResponse.ASSIGNMENTS_FIELD_NUMBER
_RESULT_ASSIGNMENTS = pb.ClientConfigResult.ASSIGNMENTS_FIELD_NUMBER
_DRY_RUN_ASSIGNMENTS = pb.MatchProfileResponse.ASSIGNMENTS_FIELD_NUMBER

_OUTCOMES = {
    Outcome.MATCHED: pb.OUTCOME_MATCHED,
    Outcome.NOT_MATCHED: pb.OUTCOME_NOT_MATCHED,
    Outcome.NOT_CONSIDERED: pb.OUTCOME_NOT_CONSIDERED,
}


class ProfileMatcherServicer(matcher_service_pb2_grpc.ProfileMatcherServiceServicer):
    def __init__(
        self, configs: ServeClientConfig[profile_pb2.Profile], dry_runs: MatchDryRun
    ) -> None:
        self._configs = configs
        self._dry_runs = dry_runs
        self._assignments = AssignmentEncoder()

    @mapped_errors
    def GetClientConfig(
        self, request: pb.GetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetClientConfigResponse:
        config = self._configs.get(
            request.player_id,
            request.game,
            context=_request_context(request.context),
            timeout=time_left(context),
        )
        response = pb.GetClientConfigResponse()
        self._fill(response, _CONFIG_ASSIGNMENTS, config)
        return response

    @mapped_errors
    def BatchGetClientConfig(
        self, request: pb.BatchGetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetClientConfigResponse:
        results = self._configs.get_many(
            list(request.player_ids),
            request.game,
            context=_request_context(request.context),
            timeout=time_left(context),
        )
        response = pb.BatchGetClientConfigResponse()
        for player_id, result in zip(request.player_ids, results, strict=True):
            if isinstance(result, DomainError):
                response.results.add(
                    player_id=player_id,
                    error=pb.PlayerError(code=code_number(result), message=client_message(result)),
                )
            else:
                self._fill(response.results.add(player_id=player_id), _RESULT_ASSIGNMENTS, result)
        return response

    @mapped_errors
    def MatchProfile(
        self, request: pb.MatchProfileRequest, context: grpc.ServicerContext
    ) -> pb.MatchProfileResponse:
        profile = profile_from_message(request.profile, require_player_id=False)
        at = datetime_from_timestamp(request.at, "at") if request.HasField("at") else None
        dry_run = self._dry_runs.run(
            profile,
            request.game,
            at,
            context=_request_context(request.context),
            timeout=time_left(context),
        )
        response = pb.MatchProfileResponse(
            active_campaigns=dry_run.active_campaigns,
            explanations=[_explanation_message(e) for e in dry_run.explanations],
            catalog_version=dry_run.catalog_version,
        )
        response.MergeFromString(self._assignments.field(_DRY_RUN_ASSIGNMENTS, dry_run.assignments))
        return response

    def _fill(
        self,
        response: pb.GetClientConfigResponse | pb.ClientConfigResult,
        assignments_field: int,
        config: ClientConfig[profile_pb2.Profile],
    ) -> None:
        """The response's profile, one copy of the stored message with the campaigns
        answered when they are not its own list, and the assignments, each encoded
        once (AssignmentEncoder) and merged in as bytes."""
        stored, active_campaigns, assignments = config
        response.profile.CopyFrom(stored)
        if active_campaigns is not None:
            response.profile.active_campaigns[:] = active_campaigns
        if assignments:
            response.MergeFromString(self._assignments.field(assignments_field, assignments))


def _request_context(context: Mapping[str, struct_pb2.Value]) -> dict[str, JSONValue]:
    # Each key, then its value: a protobuf map's items() is a generator written in
    # Python, a cost every call paid even with no context at all.
    return {key: json_from_value(context[key]) for key in context}


def _explanation_message(explanation: Explanation) -> pb.CampaignExplanation:
    message = pb.CampaignExplanation(
        game=explanation.game,
        campaign=explanation.campaign,
        outcome=_OUTCOMES[explanation.outcome],
        matcher=explanation.matcher,
        expected=explanation.expected,
        actual=explanation.actual,
        reason=explanation.reason,
        rollout_bucket=explanation.rollout_bucket,
        variant_bucket=explanation.variant_bucket,
        variant=explanation.variant,
    )
    failure = explanation.clause
    if failure is not None:
        message.clause_failure.CopyFrom(
            pb.ClauseFailure(
                path=failure.path,
                operator=failure.operator,
                wanted=failure.wanted,
                found=failure.found,
                segment_chain=failure.segment_chain,
                clause=failure.clause,
            )
        )
    return message
