"""ProfileService: profile CRUD and bulk import over the ProfileStore."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import grpc

from profilematcher.profiles.v1 import profile_service_pb2 as pb
from profilematcher.profiles.v1 import profile_service_pb2_grpc
from services.domain.errors import InvalidInput, ProfileNotFound, StoredProfileCorrupt
from services.domain.profile_json import (
    KNOWN_FIELDS,
    profile_to_document,
    validate_custom_field_name,
    validate_custom_value,
    validate_player_id,
)
from services.domain.profile_message import profile_from_message, profile_to_message
from services.storage.base import ProfileStore
from services.storage.importing import ImportRecord, import_profiles
from services.transport.status import mapped_errors, time_left

# `custom_fields` in a mask sets every custom field the request carries (it is the
# only way to name them in a JSON FieldMask, which cannot spell a leading "_").
_MASKABLE = frozenset(KNOWN_FIELDS) - {"player_id"} | {"custom_fields"}


class ProfileServicer(profile_service_pb2_grpc.ProfileServiceServicer):
    def __init__(self, store: ProfileStore) -> None:
        self._store = store

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
        # As a message, like GetClientConfig: the embedded store hands it over as
        # stored, without building and validating a domain object (BENCHMARKS.md).
        found = self._store.get_many_messages([player_id], timeout=time_left(context))
        profile = found.get(player_id)
        if profile is None:
            raise ProfileNotFound(player_id)
        if isinstance(profile, StoredProfileCorrupt):
            raise profile
        response = pb.GetProfileResponse()
        response.profile.CopyFrom(profile)
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
        report = import_profiles(self._store, _records(request_iterator))
        return pb.ImportProfilesResponse(
            created=report.created,
            updated=report.updated,
            rejected=report.rejected,
            rejections=[
                pb.ImportRejection(index=r.index, player_id=r.player_id or "", reason=r.reason)
                for r in report.rejections
            ],
        )


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
