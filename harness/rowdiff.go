package harness

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// rowDiff renders expected and actual rows as a diff, (-want +got) as
// go-cmp prints it, but one line per row and aligned in columns: a row
// that differs shows as a line of the expected values (-) and a line of
// the values read (+); a row that is only on one side shows as one line.
// Equal rows next to a difference are shown for context, longer runs of
// them are counted. first is the 1-based number in the table of the first
// row of both sides; same tells whether two values are equal.
func rowDiff(columns []string, want, got [][]any, first int, same func(want, got any) bool) string {
	n := max(len(want), len(got))
	equal := make([]bool, n)
	for i := range n {
		equal[i] = i < len(want) && i < len(got) && sameRow(want[i], got[i], same)
	}
	near := func(i int) bool { // a difference within one row
		for j := max(0, i-1); j <= min(n-1, i+1); j++ {
			if !equal[j] {
				return true
			}
		}
		return false
	}
	// Lines of cells: the mark, the row's number, its values. A line of
	// one cell is a count of equal rows, not aligned.
	lines := [][]string{append([]string{"", "row"}, columns...)}
	row := func(mark string, i int, values []any) {
		cells := []string{mark, strconv.Itoa(first + i)}
		for j := range columns {
			v := "·" // a value the row does not have
			if j < len(values) {
				v = show(values[j])
			}
			cells = append(cells, v)
		}
		lines = append(lines, cells)
	}
	for i := 0; i < n; i++ {
		if equal[i] && !near(i) {
			j := i
			for j < n && equal[j] && !near(j) {
				j++
			}
			if j-i > 1 {
				lines = append(lines, []string{"   … " + plural(j-i, "row") + " equal"})
				i = j - 1
				continue
			}
		}
		switch {
		case equal[i]:
			row("", i, got[i])
		default:
			if i < len(want) {
				row("-", i, want[i])
			}
			if i < len(got) {
				row("+", i, got[i])
			}
		}
	}
	return alignCells(lines)
}

// alignCells pads the cells of each column to the column's width, with
// two spaces between columns; a line of one cell is written as it is.
func alignCells(lines [][]string) string {
	var width []int
	for _, cells := range lines {
		if len(cells) == 1 {
			continue
		}
		for j, c := range cells {
			if j == len(width) {
				width = append(width, 0)
			}
			width[j] = max(width[j], utf8.RuneCountInString(c))
		}
	}
	var b strings.Builder
	for i, cells := range lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		var line strings.Builder
		for j, c := range cells {
			line.WriteString(c)
			if len(cells) > 1 && j < len(cells)-1 {
				line.WriteString(strings.Repeat(" ", width[j]-utf8.RuneCountInString(c)+2))
			}
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
	}
	return b.String()
}

func sameRow(want, got []any, same func(want, got any) bool) bool {
	if len(want) != len(got) {
		return false
	}
	for j := range want {
		if !same(want[j], got[j]) {
			return false
		}
	}
	return true
}

func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return strconv.Itoa(n) + " " + noun + "s"
}
