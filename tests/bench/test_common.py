import pytest


def test_git_revision_reads_a_linked_worktree(tmp_path):
    """In a linked worktree `.git` is a file pointing at its gitdir; refs live in the common
    folder (`commondir`)."""
    from bench._common import git_revision

    common = tmp_path / "repo" / ".git"
    gitdir = common / "worktrees" / "wt"
    (common / "refs" / "heads").mkdir(parents=True)
    gitdir.mkdir(parents=True)
    sha = "0123456789abcdef0123456789abcdef01234567"
    (common / "refs" / "heads" / "topic").write_text(sha + "\n")
    (gitdir / "HEAD").write_text("ref: refs/heads/topic\n")
    (gitdir / "commondir").write_text("../..\n")
    wt = tmp_path / "wt"
    wt.mkdir()
    (wt / ".git").write_text(f"gitdir: {gitdir}\n")
    assert git_revision(wt) == sha


def test_a_benchmark_over_the_development_splits_refuses_no_worlds(capsys):
    from bench._common import dev_split_args

    assert dev_split_args("x", ["--worlds", "2"]).worlds == 2
    with pytest.raises(SystemExit):
        dev_split_args("x", ["--worlds", "0"])
    assert "choose 1 world or more" in capsys.readouterr().err
