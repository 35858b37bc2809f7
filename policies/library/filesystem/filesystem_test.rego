package kitelogik.library.filesystem_test

import rego.v1

import data.kitelogik.library.filesystem as fs

call(action, paths) := {"event_type": "tool_call", "action": action, "resource": {"paths": paths}}

test_workspace_write_passes if {
	count(fs.deny) == 0 with input as call("write_file", ["/srv/app/out.txt"])
}

test_secret_read_denied if {
	{d.rule | some d in fs.deny} == {"library.filesystem.secret_file"} with input as call("read_file", ["/srv/app/.env"])
}

test_git_write_denied if {
	{d.rule | some d in fs.deny} == {"library.filesystem.protected_dir"} with input as call("write_file", ["/srv/app/.git/hooks/pre-commit"])
}

test_git_read_allowed if {
	count(fs.deny) == 0 with input as call("read_file", ["/srv/app/.git/HEAD"])
}

test_readonly_setting if {
	{d.rule | some d in fs.deny} == {"library.filesystem.readonly"} with input as call("write_file", ["/srv/app/vendor/x.py"])
		with data.kitelogik.project.library_settings as {"filesystem": {"readonly_prefixes": ["/srv/app/vendor/"]}}
}

test_bulk_delete_escalates if {
	count(fs.requires_hitl) == 1 with input as call("delete_file", ["/srv/app/a", "/srv/app/b"])
}

test_malformed_paths_ignored_safely if {
	count(fs.deny) == 0 with input as {"event_type": "tool_call", "action": "write_file", "resource": {"paths": [1, null]}}
}
