package kitelogik.global.resources_test

import rego.v1

import data.kitelogik.global.fixtures_test as fx
import data.kitelogik.main

path(p) := d if {
	d := main.decision with input as fx.call("read_file", {"paths": [p], "hosts": []})
}

host(h) := d if {
	d := main.decision with input as fx.call("http_get", {"paths": [], "hosts": [h]})
}

test_protected_paths_denied if {
	every p in ["/etc/passwd", "/etc", "/root/.bashrc", "/proc/self/environ", "/home/u/.ssh/id_rsa", "/srv/x/.aws/credentials"] {
		path(p).deny
	}
}

test_ordinary_paths_allowed if {
	every p in ["/srv/app/a.txt", "/etcetera/x", "/home/u/notes.txt", "C:/work/x.txt"] {
		path(p).allow
	}
}

test_non_canonical_paths_denied if {
	every p in ["relative/x", "/srv/data/../../etc/passwd", "/srv//x", "/srv/./x"] {
		d := path(p)
		d.deny
		"global.paths.not_canonical" in d.rules
	}
}

test_workspace_confinement if {
	d1 := path("/srv/app/a.txt") with data.kitelogik.project.workspace_roots as ["/work/ws"]
	"global.paths.outside_workspace" in d1.rules
	d2 := path("/work/ws/a.txt") with data.kitelogik.project.workspace_roots as ["/work/ws"]
	d2.allow
	d3 := path("/work/wsx/a.txt") with data.kitelogik.project.workspace_roots as ["/work/ws/"]
	d3.deny
}

test_blocked_and_private_hosts_denied if {
	every h in ["localhost", "metadata.google.internal", "db.corp.internal", "10.1.2.3", "127.0.0.1", "169.254.169.254", "192.168.1.1", "172.20.0.1", "[::1]", "::1", "2130706433", "0x7f.1", "017.0.0.1", ""] {
		host(h).deny
	}
}

test_public_hosts_allowed if {
	every h in ["api.example.com", "8.8.8.8", "api.example.com:443", "172.32.0.1"] {
		host(h).allow
	}
}

test_resource_use_paths_checked if {
	d := main.decision with input as fx.with_fields({"event_type": "resource.use", "resource": {"paths": ["/etc/x"]}, "budget": {"remaining": {}, "requested": {}}})
	"global.paths.denied_prefix" in d.rules
}
