"""ProfileService: profile CRUD and bulk import over the ProfileStore."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from profilematcher.profiles.v1 import profile_pb2, profile_service_pb2_grpc
from profilematcher.profiles.v1 import profile_service_pb2 as pb
from services.codecs.profile_message import profile_from_message, profile_to_message
from services.domain.errors import (
    InvalidInput,
    ProfileNotFound,
    StoredProfileCorrupt,
    StreamIdle,
)
from services.domain.profile_fields import KNOWN_FIELDS
from services.domain.profile_json import (
    profile_to_document,
    validate_custom_field_name,
    validate_custom_value,
    validate_player_id,
)
from services.storage.base import ServingStore
from services.storage.importing import ImportRecord, ImportReport, import_profiles
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

# `custom_fields` in a mask sets every custom field the request carries (it is the
# only way to name them in a JSON FieldMask, which cannot spell a leading "_").
_MASKABLE = frozenset(KNOWN_FIELDS) - {"player_id"} | {"custom_fields"}


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
        self._store.create(profile, timeout=time_left(context))
        return pb.CreateProfileResponse(profile=profile_to_message(profile))

    @mapped_errors
    def GetProfile(
        self, request: pb.GetProfileRequest, context: grpc.ServicerContext
    ) -> pb.GetProfileResponse:
        player_id = validate_player_id(request.player_id)
        # Through the serving reads, like GetClientConfig: the embedded store hands the
        # message over as stored, without building and validating a domain object.
        found = self._store.read_for_serving([player_id], timeout=time_left(context))
        served = found.get(player_id)
        if served is None:
            raise ProfileNotFound(player_id)
        if isinstance(served, StoredProfileCorrupt):
            raise served
        response = pb.GetProfileResponse()
        response.profile.CopyFrom(served.record)
        return response

    @mapped_errors
    def UpdateProfile(
        self, request: pb.UpdateProfileRequest, context: grpc.ServicerContext
    ) -> pb.UpdateProfileResponse:
        # Nested custom keys are checked only in the fields the mask names, so a profile
        # as GetProfile gave it (with MongoDB's `{"$oid": ...}` values) can be sent back.
        profile = profile_from_message(request.profile, strict_keys=False)
        values, unset = _mask_to_changes(profile_to_document(profile), request.update_mask.paths)
        _check_custom_values(values)
        updated = self._store.update_fields(
            profile.player_id, values, unset, timeout=time_left(context)
        )
        return pb.UpdateProfileResponse(profile=profile_to_message(updated))

    @mapped_errors
    def DeleteProfile(
        self, request: pb.DeleteProfileRequest, context: grpc.ServicerContext
    ) -> pb.DeleteProfileResponse:
        player_id = validate_player_id(request.player_id)
        if not self._store.delete(player_id, timeout=time_left(context)):
            raise ProfileNotFound(player_id)
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


def _check_custom_values(values: dict[str, Any]) -> None:
    for key, value in values.items():
        if key.startswith("_"):
            try:
                validate_custom_value(value, key)
            except InvalidInput as exc:
                raise InvalidInput(f"profile.{exc.field}", exc.problem) from None


def _mask_to_changes(
    document: dict[str, Any], paths: Iterable[str]
) -> tuple[dict[str, Any], set[str]]:
    values: dict[str, Any] = {}
    unset: set[str] = set()
    paths = list(paths)
    if not paths:
        raise InvalidInput("update_mask", "must name the fields to update")
    for path in paths:
        if path == "player_id":
            raise InvalidInput("update_mask", "player_id cannot be changed")
        if path == "active_campaigns":
            # The matcher owns it: the player's full list of matched campaigns, which
            # it writes only when that list changes.
            raise InvalidInput(
                "update_mask",
                "active_campaigns cannot be set: ProfileMatcherService maintains it",
            )
        if path == "custom_fields":
            values.update((k, v) for k, v in document.items() if k.startswith("_"))
            continue
        if path not in _MASKABLE:
            try:
                validate_custom_field_name(path)
            except InvalidInput:
                raise InvalidInput("update_mask", f"unknown field {path!r}") from None
        if path in document:
            values[path] = document[path]
        else:
            unset.add(path)
    return values, unset
