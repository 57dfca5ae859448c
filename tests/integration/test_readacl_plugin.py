"""The read-restriction test plugin (``tests/harness/readacl``) in a real devpi-server.

With ``readacl_env()`` the server loads the plugin through its ``devpi_server`` entry point;
an index titled ``read-restricted:root,alice`` then serves its files to root and alice only
(403 for anonymous and for bob), while an index without that title stays readable by all.
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.api import DevpiApi
from harness.clients import twine_upload
from harness.dists import Project, make_sdist
from harness.readacl_env import READ_RESTRICTED, readacl_env
from harness.server import ROOT_PASSWORD, DevpiServer

BINDIR = Path(sys.executable).parent
#: a file download, not devpi's JSON file metadata (which is answered before the ACL check)
RAW = {"Accept": "*/*"}


def test_read_restricted_index_serves_files_only_to_listed_users(tmp_path: Path) -> None:
    server = DevpiServer(tmp_path / "serverdir", BINDIR, env=readacl_env()).start()
    try:
        root = DevpiApi(server.url).login("root", ROOT_PASSWORD)
        for user in ("alice", "bob"):
            root.create_user(user, f"{user}-pw")
        root.create_index("root/secret", bases=[], title=f"{READ_RESTRICTED}root,alice")
        root.create_index("root/open", bases=[], title="an ordinary index")
        dists = tmp_path / "dists"
        for index, name in (("root/secret", "hidden-pkg"), ("root/open", "open-pkg")):
            sdist = make_sdist(dists, Project(name, "1.0"))
            twine_upload(tmp_path / "home", f"{server.url}/{index}/", "root", ROOT_PASSWORD, sdist)
        hidden = root.ok("GET", "root/secret/hidden-pkg/1.0")["+links"][0]["href"]
        public = root.ok("GET", "root/open/open-pkg/1.0")["+links"][0]["href"]
        assert "/root/secret/+f/" in hidden

        clients = {
            "anonymous": DevpiApi(server.url),
            "bob": DevpiApi(server.url).login("bob", "bob-pw"),
            "alice": DevpiApi(server.url).login("alice", "alice-pw"),
            "root": root,
        }
        statuses = {
            who: api.request("GET", hidden, headers=RAW).status for who, api in clients.items()
        }
        assert statuses == {"anonymous": 403, "bob": 403, "alice": 200, "root": 200}, (
            server.log_tail()
        )
        got = clients["alice"].request("GET", hidden, headers=RAW).body
        assert got == (dists / "hidden_pkg-1.0.tar.gz").read_bytes()

        # without the title prefix, devpi's default: everyone reads
        for who, api in clients.items():
            assert api.request("GET", public, headers=RAW).status == 200, who
    finally:
        server.stop()
