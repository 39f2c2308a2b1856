package repocheck

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func readme(t *testing.T) string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

// section returns the README's section under the heading "## title".
func section(t *testing.T, doc, title string) string {
	t.Helper()
	i := strings.Index(doc, "\n## "+title+"\n")
	if i < 0 {
		t.Fatalf("the README has no section %q", title)
	}
	rest := doc[i+len(title)+5:]
	if j := strings.Index(rest, "\n## "); j >= 0 {
		rest = rest[:j]
	}
	return rest
}

// TestReadmeStartsWithTheTwoCommands: make run and make test come first,
// and both are targets.
func TestReadmeStartsWithTheTwoCommands(t *testing.T) {
	lines := strings.Split(readme(t), "\n")
	if len(lines) < 6 || !strings.HasPrefix(lines[3], "make run ") || !strings.HasPrefix(lines[4], "make test ") {
		t.Errorf("the README does not begin with make run and make test:\n%s", strings.Join(lines[:min(6, len(lines))], "\n"))
	}
	targets := makeTargets(t)
	if !targets["run"] || !targets["test"] {
		t.Error("the Makefile lacks run or test")
	}
}

// system names variables of the operating system and the Go toolchain
// that tests read for their own purposes; dbharness does not give them a
// meaning of its own.
var system = map[string]bool{"GOROOT": true, "GOPATH": true, "HOME": true, "PATH": true, "TMPDIR": true}

// TestReadmeEnvironmentTable: every environment variable the module's
// code names (DBTEST_* literals, and the names given to os.Getenv and
// os.LookupEnv) is in the README's one table of them.
func TestReadmeEnvironmentTable(t *testing.T) {
	table := section(t, readme(t), "Environment")
	vars := map[string]string{} // name: a file that names it
	literal := regexp.MustCompile(`"(DBTEST_[A-Z_]+)"`)
	getenv := regexp.MustCompile(`os\.(?:Getenv|LookupEnv)\("([A-Z_]+)"\)`)
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if path != root && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
				return filepath.SkipDir
			}
			if _, err := os.Stat(filepath.Join(path, "go.mod")); err == nil && path != root {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.Contains(path, "repocheck") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, re := range []*regexp.Regexp{literal, getenv} {
			for _, m := range re.FindAllStringSubmatch(string(data), -1) {
				vars[m[1]] = rel(path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(vars) < 10 {
		t.Fatalf("found only %d variables: %v", len(vars), vars)
	}
	for name, file := range vars {
		if system[name] {
			continue
		}
		if !strings.Contains(table, "`"+name+"`") {
			t.Errorf("%s (named in %s) is not in the README's Environment table", name, file)
		}
	}
	for _, name := range []string{"NO_COLOR", "TERM"} { // read through a variable, in cmd/dbharness
		if !strings.Contains(table, "`"+name+"`") {
			t.Errorf("%s is not in the README's Environment table", name)
		}
	}
}

// TestReadmeWorkflowExcerpt: the workflow shown in the README's CI section
// is the real one: each of its lines is a line of ci.yml, in order.
func TestReadmeWorkflowExcerpt(t *testing.T) {
	ci := section(t, readme(t), "CI")
	start := strings.Index(ci, "```yaml\n")
	if start < 0 {
		t.Fatal("the CI section shows no workflow")
	}
	excerpt := ci[start+len("```yaml\n"):]
	excerpt = excerpt[:strings.Index(excerpt, "```")]
	_, data := readWorkflow(t)
	file := strings.Split(string(data), "\n")
	at := 0
	shown := 0
	for _, line := range strings.Split(strings.TrimRight(excerpt, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		shown++
		for at < len(file) && file[at] != line {
			at++
		}
		if at == len(file) {
			t.Fatalf("the README's workflow line %q is not in ci.yml (in that order)", line)
		}
	}
	if shown < 20 {
		t.Errorf("the README shows only %d lines of the workflow", shown)
	}
}

// TestReadmeGoGetNamesAPackage: every `go get` of this module in the
// README names a package of it, not the module's root, which holds no Go
// files: `go get module@latest` records no checksums for what the
// packages import, and the reader's first `go test` then stops at a
// missing go.sum entry.
func TestReadmeGoGetNamesAPackage(t *testing.T) {
	const module = "github.com/easyautoml/dbharness"
	re := regexp.MustCompile(`go get (` + regexp.QuoteMeta(module) + `\S*)@`)
	found := 0
	for _, m := range re.FindAllStringSubmatch(readme(t), -1) {
		found++
		dir := filepath.Join(root, strings.TrimPrefix(strings.TrimPrefix(m[1], module), "/"))
		goFiles, _ := filepath.Glob(filepath.Join(dir, "*.go"))
		if len(goFiles) == 0 {
			t.Errorf("the README runs `go get %s@…`: %s holds no Go package", m[1], dir)
		}
	}
	if found == 0 {
		t.Error("the README's quick start has no `go get` of " + module)
	}
}
