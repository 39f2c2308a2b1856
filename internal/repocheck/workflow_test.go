package repocheck

import (
	"bufio"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// workflow is the part of a GitHub Actions workflow that the checks read.
type workflow struct {
	Name string         `yaml:"name"`
	On   map[string]any `yaml:"on"`
	Env  map[string]string
	Jobs map[string]struct {
		RunsOn   string            `yaml:"runs-on"`
		Env      map[string]string `yaml:"env"`
		Services map[string]struct {
			Image string `yaml:"image"`
		} `yaml:"services"`
		Steps []struct {
			Name string            `yaml:"name"`
			Uses string            `yaml:"uses"`
			Run  string            `yaml:"run"`
			With map[string]string `yaml:"with"`
		} `yaml:"steps"`
	} `yaml:"jobs"`
}

func readWorkflow(t *testing.T) (*workflow, []byte) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, ".github", "workflows", "ci.yml"))
	if err != nil {
		t.Fatal(err)
	}
	var w workflow
	if err := yaml.Unmarshal(data, &w); err != nil {
		t.Fatalf("ci.yml is not valid YAML: %v", err)
	}
	return &w, data
}

// makeTargets lists the targets the Makefile defines.
func makeTargets(t *testing.T) map[string]bool {
	t.Helper()
	f, err := os.Open(filepath.Join(root, "Makefile"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	targets := map[string]bool{}
	rule := regexp.MustCompile(`^([A-Za-z0-9][A-Za-z0-9_.-]*(?:\s+[A-Za-z0-9][A-Za-z0-9_.-]*)*)\s*:([^=]|$)`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if m := rule.FindStringSubmatch(sc.Text()); m != nil {
			for _, name := range strings.Fields(m[1]) {
				targets[name] = true
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return targets
}

var (
	makeCall  = regexp.MustCompile(`(?:^|[\s;&|(])make\s+([^;&|#\n)]+)`)
	goRunCall = regexp.MustCompile(`go run (\./[A-Za-z0-9_./-]+)`)
	cdCall    = regexp.MustCompile(`(?:^|[\s;&|(])cd\s+([A-Za-z0-9_./-]+)`)
	goTool    = regexp.MustCompile(`go tool ([A-Za-z0-9_-]+)`)
	envName   = regexp.MustCompile(`^DBTEST_[A-Z_]+$`)
	pinned    = regexp.MustCompile(`^[a-z0-9./-]+:[0-9]+\.[0-9]+(\.[0-9]+)?(-[a-z0-9.]+)?$`)
)

// TestWorkflow checks .github/workflows/ci.yml: it parses; it has the
// jobs the README describes; every job runs on a runner and has steps;
// every "make X" it runs is a target of the Makefile; every "go run ./..."
// names a main package of the module; every "cd" goes to a directory
// that exists, and "go tool X" there is a tool of that module; service
// images are pinned to a version; the DBTEST_* variables it sets are
// ones dbtest reads.
func TestWorkflow(t *testing.T) {
	w, _ := readWorkflow(t)
	targets := makeTargets(t)
	known := dbtestVariables(t)
	for _, job := range []string{"lint", "sqlite", "postgres", "mysql", "containers", "scenarios", "fuzz"} {
		if _, ok := w.Jobs[job]; !ok {
			t.Errorf("no job %q", job)
		}
	}
	checkEnv := func(where string, env map[string]string) {
		for k := range env {
			if strings.HasPrefix(k, "DBTEST_") && (!envName.MatchString(k) || !known[k]) {
				t.Errorf("%s sets %s, which dbtest does not read", where, k)
			}
		}
	}
	checkEnv("the workflow", w.Env)
	makes, runs := 0, 0
	for name, job := range w.Jobs {
		if job.RunsOn == "" || len(job.Steps) == 0 {
			t.Errorf("job %s: no runs-on or no steps", name)
		}
		checkEnv("job "+name, job.Env)
		for svc, s := range job.Services {
			if !pinned.MatchString(s.Image) {
				t.Errorf("job %s: service %s: image %q is not pinned to a version", name, svc, s.Image)
			}
		}
		for i, st := range job.Steps {
			if st.Uses == "" && st.Run == "" {
				t.Errorf("job %s, step %d: neither uses nor run", name, i+1)
			}
			if st.Uses != "" && !strings.Contains(st.Uses, "@v") {
				t.Errorf("job %s, step %d: %s is not pinned to a version", name, i+1, st.Uses)
			}
			dir := root
			for _, line := range strings.Split(st.Run, "\n") {
				for _, m := range cdCall.FindAllStringSubmatch(line, -1) {
					dir = filepath.Join(dir, m[1])
					if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
						t.Errorf("job %s: cd %s: no such directory", name, m[1])
					}
				}
				for _, m := range makeCall.FindAllStringSubmatch(line, -1) {
					for _, target := range strings.Fields(m[1]) {
						if strings.Contains(target, "=") || strings.HasPrefix(target, "-") {
							continue // a variable (make fuzz FUZZTIME=4000x) or a flag
						}
						makes++
						if !targets[target] {
							t.Errorf("job %s runs make %s: the Makefile has no such target (it has %s)", name, target, sortedKeys(targets))
						}
					}
				}
				for _, m := range goRunCall.FindAllStringSubmatch(line, -1) {
					runs++
					if !isMainPackage(filepath.Join(dir, m[1])) {
						t.Errorf("job %s runs go run %s: no main package there", name, m[1])
					}
				}
				for _, m := range goTool.FindAllStringSubmatch(line, -1) {
					if !hasTool(t, dir, m[1]) {
						t.Errorf("job %s runs go tool %s in %s: its go.mod declares no such tool", name, m[1], rel(dir))
					}
				}
			}
		}
	}
	if makes == 0 || runs == 0 {
		t.Errorf("found %d make calls and %d go run calls: the checks read nothing", makes, runs)
	}
}

// TestWorkflowChecksCatchMistakes runs the pieces of TestWorkflow on
// lines that are wrong.
func TestWorkflowChecksCatchMistakes(t *testing.T) {
	targets := makeTargets(t)
	for _, target := range []string{"run", "test", "lint", "fuzz"} {
		if !targets[target] {
			t.Errorf("the Makefile parse misses target %s", target)
		}
	}
	if targets["export"] || targets["GO"] {
		t.Errorf("the Makefile parse takes variables for targets: %v", sortedKeys(targets))
	}
	if m := makeCall.FindStringSubmatch("  make tset"); m == nil || targets[strings.TrimSpace(m[1])] {
		t.Error("make tset is not caught")
	}
	if isMainPackage(filepath.Join(root, "./cmd/nope")) || !isMainPackage(filepath.Join(root, "./cmd/dbharness")) {
		t.Error("isMainPackage is wrong")
	}
	if pinned.MatchString("postgres:latest") || pinned.MatchString("mysql") || !pinned.MatchString("postgres:16.9-alpine") {
		t.Error("the image pin check is wrong")
	}
}

// isMainPackage reports whether dir holds a Go main package.
func isMainPackage(dir string) bool {
	files, _ := filepath.Glob(filepath.Join(dir, "*.go"))
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err == nil && regexp.MustCompile(`(?m)^package main$`).Match(data) {
			return true
		}
	}
	return false
}

// hasTool reports whether the go.mod of the module in dir declares a tool
// whose last path element is name.
func hasTool(t *testing.T, dir, name string) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
	if err != nil {
		return false
	}
	for _, m := range regexp.MustCompile(`(?m)^tool\s+(\S+)`).FindAllStringSubmatch(string(data), -1) {
		if filepath.Base(m[1]) == name {
			return true
		}
	}
	return false
}

// dbtestVariables lists the DBTEST_* variables named in dbtest's code.
func dbtestVariables(t *testing.T) map[string]bool {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(root, "dbtest", "*.go"))
	vars := map[string]bool{}
	re := regexp.MustCompile(`"(DBTEST_[A-Z_]+)"`)
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(data), -1) {
			vars[m[1]] = true
		}
	}
	if len(vars) < 5 {
		t.Fatalf("found only %d DBTEST_ variables in dbtest", len(vars))
	}
	return vars
}

func sortedKeys(m map[string]bool) string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return strings.Join(k, " ")
}
