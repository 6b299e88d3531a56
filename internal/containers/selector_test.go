package containers

import "testing"

func TestSelector(t *testing.T) {
	web := &Container{Name: "web", K8s: K8s{Namespace: "prod", PodName: "web-1", ContainerName: "nginx"}, Labels: map[string]string{"app": "web", "tier": "front"}}
	db := &Container{Name: "db", K8s: K8s{Namespace: "prod", PodName: "db-0", ContainerName: "postgres"}, Labels: map[string]string{"app": "db"}}
	bare := &Container{Name: "runc1"}
	all := []*Container{web, db, bare}

	for _, tc := range []struct {
		name     string
		flags    SelectorFlags
		want     []*Container
		host     bool
		filtered bool
	}{
		{"default: everything", SelectorFlags{}, all, true, false},
		{"--host alone is the default", SelectorFlags{Host: true}, all, true, false},
		{"--containers-only", SelectorFlags{ContainersOnly: true}, all, false, true},
		{"-c names", SelectorFlags{ContainerName: "web,runc1"}, []*Container{web, bare}, false, true},
		{"-c exclusion", SelectorFlags{ContainerName: "!db"}, []*Container{web, bare}, false, true},
		{"-c mixed", SelectorFlags{ContainerName: "web,db,!db"}, []*Container{web}, false, true},
		{"-c with --host", SelectorFlags{ContainerName: "db", Host: true}, []*Container{db}, true, true},
		{"namespace", SelectorFlags{K8sNamespace: "prod"}, []*Container{web, db}, false, true},
		{"pod", SelectorFlags{K8sPodName: "db-0"}, []*Container{db}, false, true},
		{"k8s container", SelectorFlags{K8sContainerName: "nginx,postgres"}, []*Container{web, db}, false, true},
		{"criteria are and-ed", SelectorFlags{K8sNamespace: "prod", K8sContainerName: "!postgres"}, []*Container{web}, false, true},
		{"selector eq", SelectorFlags{K8sSelector: "app=web"}, []*Container{web}, false, true},
		{"selector ==", SelectorFlags{K8sSelector: "app==db"}, []*Container{db}, false, true},
		{"selector ne", SelectorFlags{K8sSelector: "app!=web"}, []*Container{db, bare}, false, true},
		{"selector exists", SelectorFlags{K8sSelector: "tier"}, []*Container{web}, false, true},
		{"selector absent", SelectorFlags{K8sSelector: "!tier,app"}, []*Container{db}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := NewSelector(tc.flags)
			if err != nil {
				t.Fatal(err)
			}
			var got []*Container
			for _, c := range all {
				if s.Matches(c) {
					got = append(got, c)
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("matched %v, want %v", names(got), names(tc.want))
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("matched %v, want %v", names(got), names(tc.want))
				}
			}
			if s.IncludesHost() != tc.host || s.Filtering() != tc.filtered {
				t.Errorf("host %v filtering %v, want %v %v", s.IncludesHost(), s.Filtering(), tc.host, tc.filtered)
			}
		})
	}

	for _, bad := range []SelectorFlags{
		{Host: true, ContainersOnly: true},
		{ContainerName: "a,!"},
		{K8sSelector: "=v"},
	} {
		if _, err := NewSelector(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	var none *Selector
	if !none.Matches(web) || !none.IncludesHost() || none.Filtering() {
		t.Error("a nil selector selects everything")
	}
}

func names(cs []*Container) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Name
	}
	return out
}
