"""provisioner/paths.py: the one rule for where a file a run reads may lead (manifests, vars files, overlays,
document files)."""
import os

from hypothesis import given, strategies as st

from provisioner.paths import forbidden, leads_out, within

SEGMENT = st.text(alphabet="abc.-_", min_size=1, max_size=5).filter(lambda s: s not in (".", ".."))


@given(st.lists(SEGMENT, min_size=1, max_size=4), st.lists(SEGMENT, min_size=0, max_size=3), SEGMENT)
def test_within_is_the_folder_or_under_it_never_a_sibling_sharing_its_prefix(root_parts, below, suffix):
    root = "/" + "/".join(root_parts)
    assert within(root, root)
    assert within("/".join([root, *below]), root)
    assert not within(root + suffix, root)  # /a/bc is not under /a/b


def test_proc_sys_and_dev_are_forbidden_and_only_they():
    assert forbidden("/proc") and forbidden("/proc/self/environ") and forbidden("/sys/kernel") and forbidden("/dev/null")
    assert not forbidden("/procedures/x") and not forbidden("/device") and not forbidden("/home/dev")


def test_a_link_is_followed_before_the_rule_is_asked(tmp_path):
    inside = tmp_path / "project"
    inside.mkdir()
    (inside / "real.yaml").write_text("a: 1\n")
    (inside / "here.yaml").symlink_to(inside / "real.yaml")
    (inside / "out.yaml").symlink_to("/etc/hostname")
    (inside / "env").symlink_to("/proc/self/environ")
    allowed = (os.path.realpath(inside),)
    assert not leads_out(inside / "here.yaml", allowed)
    assert leads_out(inside / "out.yaml", allowed)
    assert leads_out(inside / "env", ("/",))  # forbidden even where everything else is allowed
    assert leads_out(inside / "real.yaml", (os.path.realpath(tmp_path / "other"),))
