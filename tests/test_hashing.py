"""The shared file hash agrees with hashlib on the whole content, whatever the chunk size."""

import hashlib

from edgeseg.hashing import sha256_file


def test_sha256_file_matches_hashlib(tmp_path):
    data = bytes(range(256)) * 5000
    path = tmp_path / "blob"
    path.write_bytes(data)
    assert sha256_file(path, chunk=1000) == hashlib.sha256(data).hexdigest()
