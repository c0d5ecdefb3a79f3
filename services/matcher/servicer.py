"""ProfileMatcherService: translates messages, calls ClientConfigs, maps errors."""

from __future__ import annotations

import grpc

from profilematcher.matcher.v1 import matcher_service_pb2 as pb
from profilematcher.matcher.v1 import matcher_service_pb2_grpc
from services.domain.errors import DomainError
from services.domain.profile_message import datetime_from_timestamp, profile_from_message
from services.matcher.assignment_messages import AssignmentEncoder
from services.matcher.client_config import ClientConfigs
from services.matching.explain import Explanation, Outcome
from services.transport.status import client_message, mapped_errors, status_for, time_left

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
    def __init__(self, configs: ClientConfigs) -> None:
        self._configs = configs
        self._assignments = AssignmentEncoder()

    @mapped_errors
    def GetClientConfig(
        self, request: pb.GetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.GetClientConfigResponse:
        config = self._configs.get_config(
            request.player_id, request.game, timeout=time_left(context)
        )
        response = pb.GetClientConfigResponse()
        response.profile.CopyFrom(config.profile)
        response.MergeFromString(self._assignments.field(_CONFIG_ASSIGNMENTS, config.assignments))
        return response

    @mapped_errors
    def BatchGetClientConfig(
        self, request: pb.BatchGetClientConfigRequest, context: grpc.ServicerContext
    ) -> pb.BatchGetClientConfigResponse:
        results = self._configs.get_many_configs(
            list(request.player_ids), request.game, timeout=time_left(context)
        )
        response = pb.BatchGetClientConfigResponse()
        for player_id, result in zip(request.player_ids, results, strict=True):
            if isinstance(result, DomainError):
                response.results.add(
                    player_id=player_id,
                    error=pb.PlayerError(
                        code=status_for(result).value[0], message=client_message(result)
                    ),
                )
            else:
                added = response.results.add(player_id=player_id)
                added.profile.CopyFrom(result.profile)
                added.MergeFromString(
                    self._assignments.field(_RESULT_ASSIGNMENTS, result.assignments)
                )
        return response

    @mapped_errors
    def MatchProfile(
        self, request: pb.MatchProfileRequest, context: grpc.ServicerContext
    ) -> pb.MatchProfileResponse:
        profile = profile_from_message(request.profile, require_player_id=False)
        at = datetime_from_timestamp(request.at, "at") if request.HasField("at") else None
        dry_run = self._configs.dry_run(profile, request.game, at, timeout=time_left(context))
        response = pb.MatchProfileResponse(
            active_campaigns=dry_run.active_campaigns,
            explanations=[_explanation_message(e) for e in dry_run.explanations],
            catalog_version=dry_run.catalog_version,
        )
        response.MergeFromString(self._assignments.field(_DRY_RUN_ASSIGNMENTS, dry_run.assignments))
        return response


def _explanation_message(explanation: Explanation) -> pb.CampaignExplanation:
    return pb.CampaignExplanation(
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
