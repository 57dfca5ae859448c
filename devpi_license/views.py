"""Pyramid wiring of devpi_license: subscribers and the ``+license`` view.

``GET /{user}/{index}/{project}/{version}/+license`` (JSON): the release's license as the
index serves it: SPDX expression, state (known, unknown, pending), the deciding source and
its confidence, every piece of evidence with its file, conflicts, and the verdict of the
license rules on the index's inheritance path down to the index holding the release.
"""

from __future__ import annotations

from typing import Any

from devpi_server.views import apireturn
from packaging.utils import canonicalize_name
from pyramid.events import ApplicationCreated, BeforeRender
from pyramid.tweens import EXCVIEW

from devpi_foundry_common.gcfreeze import freeze_startup_heap
from devpi_foundry_common.index_writes import is_index_write_view, wrap_index_write
from devpi_foundry_common.indexconfig import requested_index_options, unenforced_options
from devpi_license.adapters.devpi import upgrade_index_options
from devpi_license.adapters.lookup import holder_of, path_verdict, release_license
from devpi_license.config import DEFAULTS, NEEDS_POLICY, POLICY_FEATURE
from devpi_license.web import on_before_render

ROUTE = "devpi_license_release"


def index_writes_deriver(view: Any, info: Any) -> Any:
    """Pyramid view deriver: devpi's index PUT/PATCH views refuse license rules this server
    cannot enforce and store the defaults of ``license_*`` options edited with ``+=``/``-=``,
    only once devpi has authorised the request (see devpi_foundry_common.index_writes)."""
    if not is_index_write_view(info.options):
        return view
    return wrap_index_write(view, before=_before_index_write)


def _before_index_write(request: Any) -> bool:
    refuse_unenforceable_options(request)
    return upgrade_index_options(request)


def refuse_unenforceable_options(request: Any) -> None:
    """License rules are enforced by devpi_policy: without it, setting them is a 400."""
    options = requested_index_options(request)
    if options is None:
        return
    unenforced = unenforced_options(options, DEFAULTS, NEEDS_POLICY)
    if unenforced and POLICY_FEATURE not in request.registry["xom"].supported_features:
        names = ", ".join(unenforced)
        apireturn(
            400,
            message=f"{names}: license rules are enforced by devpi_policy, which this server "
            "does not run; install and enable devpi_policy (part of devpi-foundry) or leave "
            "these options at their defaults",
        )


def release_license_json(request: Any, stage: Any, project: str, version: str) -> dict[str, Any]:
    """The ``+license`` document of a release served through ``stage``."""
    xom = request.registry["xom"]
    holder = holder_of(xom, stage.name, project, version)
    if holder is None:
        apireturn(404, message=f"{stage.name} serves no release {project} {version}")
    found = release_license(xom, holder, project, version)
    body: dict[str, Any] = {"project": project, "version": version, "index": stage.name,
                            "stored_in": holder.name}  # fmt: skip
    if found is None:
        body.update(state="pending", expression=None, source=None, confidence=0.0, file=None,
                    files=[], evidence=[], conflicts=[])  # fmt: skip
    else:
        body.update(found.as_json())
    body["verdict"] = path_verdict(stage, holder, found)
    return body


def license_view(request: Any) -> None:
    stage = request.context.stage
    project = canonicalize_name(request.matchdict["project"])
    version = request.matchdict["version"]
    apireturn(200, type="license", result=release_license_json(request, stage, project, version))


def includeme(config: Any) -> None:
    """Called through ``pyramid_config.include("devpi_license.views")``."""
    config.add_view_deriver(index_writes_deriver, name="devpi_license_index_writes")
    config.add_subscriber(on_before_render, BeforeRender)
    config.add_subscriber(freeze_startup_heap, ApplicationCreated)
    config.add_tween(
        "devpi_license.adapters.uploads.upload_tween_factory",
        under="devpi_server.views.tween_keyfs_transaction",
        over=EXCVIEW,
    )
    config.add_route(ROUTE, "/{user}/{index}/{project}/{version}/+license")
    config.add_view(license_view, route_name=ROUTE, request_method="GET", permission="pkg_read")
