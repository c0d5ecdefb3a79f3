"""ProfileService: decodes requests, calls the profile use cases, answers, maps errors."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

import grpc

from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.codecs.profile_message import profile_from_message, profile_to_message
from services.domain.errors import InvalidInput, StreamIdle
from services.profiles.import_profiles import ImportRecord, ImportReport, import_profiles
from services.profiles.use_cases import (
    create_profile,
    delete_profile,
    get_profile,
    update_profile,
)
from services.storage.base import ServingStore
from services.transport.status import (
    DETAILS_BUDGET_BYTES,
    attach_details,
    mapped_errors,
    time_left,
)
from services.transport.streams import IdleLimitedStream, StreamSlots

log = logging.getLogger(__name__)

# Each import stream holds one of the server's worker threads while it is open, and
# imports all write through the store's one write path, where more streams at once
# would only wait on each other: a few are enough, and the rest are refused.
MAX_IMPORT_STREAMS = 2
# A stream that sends nothing for this long is ended, so a stalled or forgotten client
# cannot keep a slot and a thread forever.
IMPORT_IDLE_TIMEOUT = 30.0


class ProfileServicer(profile_service_pb2_grpc.ProfileServiceServicer):
    def __init__(
        self,
        store: ServingStore[profile_pb2.Profile],
        *,
        max_import_streams: int = MAX_IMPORT_STREAMS,
        import_idle_timeout: float = IMPORT_IDLE_TIMEOUT,
    ) -> None:
        if import_idle_timeout <= 0:
            raise ValueError(f"import idle timeout must be positive, got {import_idle_timeout}")
        self._store = store
        self._import_slots = StreamSlots(max_import_streams, what="ImportProfiles streams")
        self._import_idle_timeout = import_idle_timeout

    @mapped_errors
    def CreateProfile(
        self, request: pb.CreateProfileRequest, context: grpc.ServicerContext
    ) -> pb.CreateProfileResponse:
        profile = profile_from_message(request.profile)
        create_profile(self._store, profile, timeout=time_left(context))
        return pb.CreateProfileResponse(profile=profile_to_message(profile))

    @mapped_errors
    def GetProfile(
        self, request: pb.GetProfileRequest, context: grpc.ServicerContext
    ) -> pb.GetProfileResponse:
        stored = get_profile(self._store, request.player_id, timeout=time_left(context))
        response = pb.GetProfileResponse()
        response.profile.CopyFrom(stored)
        return response

    @mapped_errors
    def UpdateProfile(
        self, request: pb.UpdateProfileRequest, context: grpc.ServicerContext
    ) -> pb.UpdateProfileResponse:
        # Nested custom keys are checked only in the fields the mask names (the use
        # case does), so the profile is decoded without that rule.
        profile = profile_from_message(request.profile, strict_keys=False)
        updated = update_profile(
            self._store, profile, request.update_mask.paths, timeout=time_left(context)
        )
        return pb.UpdateProfileResponse(profile=profile_to_message(updated))

    @mapped_errors
    def DeleteProfile(
        self, request: pb.DeleteProfileRequest, context: grpc.ServicerContext
    ) -> pb.DeleteProfileResponse:
        delete_profile(self._store, request.player_id, timeout=time_left(context))
        return pb.DeleteProfileResponse()

    @mapped_errors
    def ImportProfiles(
        self, request_iterator: Iterator[pb.ImportProfilesRequest], context: grpc.ServicerContext
    ) -> pb.ImportProfilesResponse:
        with (
            self._import_slots.hold(),
            IdleLimitedStream(
                request_iterator, self._import_idle_timeout, name="import-reader"
            ) as stream,
        ):
            report = import_profiles(self._store, _records(stream))
        response = _import_response(report)
        if stream.idle:
            error = StreamIdle(
                f"ImportProfiles: nothing received for {self._import_idle_timeout:g} s, so"
                f" the stream was ended; {_summary(report)}, and those are kept"
                " (the report is in the status details)"
            )
            attach_details(context, error, _within_budget(response))
            raise error
        if stream.cancelled:
            log.info("ImportProfiles ended by the caller; %s, and those are kept", _summary(report))
        return response


def _import_response(report: ImportReport) -> pb.ImportProfilesResponse:
    return pb.ImportProfilesResponse(
        created=report.created,
        updated=report.updated,
        rejected=report.rejected,
        rejections=[
            pb.ImportRejection(index=r.index, player_id=r.player_id or "", reason=r.reason)
            for r in report.rejections
        ],
    )


def _summary(report: ImportReport) -> str:
    received = report.created + report.updated + report.rejected
    return (
        f"the {received} profiles received before were imported: {report.created} created,"
        f" {report.updated} updated, {report.rejected} rejected"
    )


def _within_budget(response: pb.ImportProfilesResponse) -> pb.ImportProfilesResponse:
    """The response with only the first rejections that fit in the details' budget
    (the counts stay exact, as they do when rejections pass `max_rejections`)."""
    kept = pb.ImportProfilesResponse(
        created=response.created, updated=response.updated, rejected=response.rejected
    )
    # Room for the counts and the google.rpc.Status around them (code, type URL).
    size = kept.ByteSize() + 256
    for rejection in response.rejections:
        size += rejection.ByteSize() + 4  # field tag and length prefix
        if size > DETAILS_BUDGET_BYTES:
            break
        kept.rejections.append(rejection)
    return kept


def _records(requests: Iterable[pb.ImportProfilesRequest]) -> Iterator[ImportRecord]:
    for index, request in enumerate(requests):
        try:
            yield index, profile_from_message(request.profile), None
        except InvalidInput as exc:
            yield index, None, str(exc)
