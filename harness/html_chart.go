package harness

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/easyautoml/dbharness/dbtest"
)

// A lock chart is a lock report drawn for people: one lane per connection,
// time running left to right, and a bar for each lock a connection held,
// as long as it held it, coloured by the lock's level. A lock asked for
// and refused is a mark; a wait that failed is a hatched bar.

// Geometry of a chart, in SVG user units (the SVG scales to its box).
const (
	chartWidth  = 1000.0
	chartLeft   = 250.0 // where the time axis begins; lane labels to its left
	chartRight  = 20.0
	chartTop    = 30.0 // room for the tick labels
	laneHeight  = 44.0
	barHeight   = 24.0
	chartBottom = 14.0
)

// lockChart is what the template draws.
type lockChart struct {
	Width, Height float64
	Left, Right   float64 // the time axis's ends
	AxisY, Bottom float64 // where the tick lines begin and end
	TickY         float64 // the baseline of the tick labels
	LaneHeight    float64
	HasWaiting    bool // for the legend
	HasDenied     bool
	Lanes         []chartLane
	Ticks         []chartTick
	Legend        []legendItem
	Title         string // one line: what the chart shows
}

type chartLane struct {
	Conn       int
	Role       string // "test", "raw" or "other", for the lane's style
	Y          float64
	TextY      float64
	Label, Sub string
	Bars       []chartBar
	Marks      []chartMark
}

type chartBar struct {
	X, Y, W, H float64
	Level      string // the lock, as the report names it
	Class      string // "held" or "waiting"
	Fill       string
	Text       string // inside the bar when it fits, else before it
	TextClass  string
	TextX      float64
	TextY      float64
	Anchor     string // of the text: "start" or "end"
	Title      string // the tooltip: lock, from, to, statement
}

type chartMark struct {
	X, Y   float64
	Level  string
	Path   string // an X-shaped cross, centred on X, Y
	Text   string // only on a lane's last refusal
	TextX  float64
	TextY  float64
	Anchor string
	Title  string
}

type chartTick struct {
	X     float64
	Label string
}

type legendItem struct {
	Level, Fill string
}

// levelColors gives SQLite's lock levels their colours, weakest first; the
// servers' locks take the colours of levelPalette in order of appearance.
var levelColors = map[string]string{
	"SHARED":    "#5b8def",
	"RESERVED":  "#f0a830",
	"PENDING":   "#b06fd8",
	"EXCLUSIVE": "#e0533d",
}

var sqliteLevels = []string{"SHARED", "RESERVED", "PENDING", "EXCLUSIVE"}

var levelPalette = []string{"#f0a830", "#5b8def", "#e0533d", "#b06fd8", "#3fb58a", "#8c8c8c"}

// span is one lock held (or waited for) by a connection.
type span struct {
	conn     int
	from, to time.Duration
	level    string
	waiting  bool
	stmt     string
	open     bool // still held when the report was made
}

type refusal struct {
	conn  int
	at    time.Duration
	level string
	stmt  string
	label bool // say so in words, not only with a cross
}

// newLockChart draws rep, or returns nil when it has nothing to draw.
func newLockChart(rep *dbtest.LockReport) *lockChart {
	if rep == nil {
		return nil
	}
	var spans []span
	var refused []refusal
	var order []int
	if len(rep.Timeline) > 0 {
		spans, refused, order = timelineSpans(rep)
	} else {
		spans, refused, order = holderSpans(rep)
	}
	if len(order) == 0 {
		return nil
	}
	end := time.Duration(0)
	for _, s := range spans {
		end = max(end, s.to)
	}
	for _, r := range refused {
		end = max(end, r.at)
	}
	if end <= 0 {
		end = time.Microsecond
	}
	c := &lockChart{Width: chartWidth, Left: chartLeft, Right: chartWidth - chartRight, AxisY: chartTop - 6, TickY: chartTop - 10, LaneHeight: laneHeight}
	// The last event is drawn short of the right edge: by a twentieth of
	// the axis, or by the width of a refusal's label.
	room := (c.Right - c.Left) / 20
	for _, r := range refused {
		if r.label {
			room = max(room, textWidth("denied "+r.level)+20)
		}
	}
	scaleEnd := time.Duration(float64(end) * (c.Right - c.Left) / (c.Right - c.Left - room))
	x := func(d time.Duration) float64 {
		return c.Left + (c.Right-c.Left)*float64(d)/float64(scaleEnd)
	}
	info := connInfos(rep)
	colors := map[string]string{}
	colorOf := func(level string) string {
		if col, ok := levelColors[level]; ok {
			return col
		}
		if col, ok := colors[level]; ok {
			return col
		}
		col := levelPalette[len(colors)%len(levelPalette)]
		colors[level] = col
		return col
	}
	lane := map[int]int{}
	for i, conn := range order {
		y := chartTop + float64(i)*laneHeight
		l := chartLane{Conn: conn, Y: y, TextY: y + laneHeight/2}
		l.Label, l.Sub, l.Role = laneLabel(conn, info[conn])
		lane[conn] = i
		c.Lanes = append(c.Lanes, l)
	}
	for _, s := range spans {
		l := &c.Lanes[lane[s.conn]]
		x0, x1 := x(s.from), x(s.to)
		w := max(x1-x0, 2) // a lock held for an instant still shows
		b := chartBar{X: x0, Y: l.Y + (laneHeight-barHeight)/2, W: w, H: barHeight, Level: s.level, Class: "held", Fill: colorOf(s.level)}
		verb := "held"
		if s.waiting {
			b.Class, b.Fill, verb = "waiting", "url(#waiting)", "waited for"
			c.HasWaiting = true
		}
		b.Title = fmt.Sprintf("conn #%d %s %s from +%s to +%s", s.conn, verb, s.level, ms(s.from), ms(s.to))
		if s.open {
			b.Title += " (still held)"
		}
		if s.stmt != "" {
			b.Title += "\n" + s.stmt
		}
		b.TextY, b.Anchor, b.TextClass = b.Y+barHeight/2+4, "start", "bar-text"
		text := s.level
		if s.waiting {
			text = "waits for " + s.level
			b.TextClass = "bar-text waiting-text"
		}
		switch {
		case fits(text, w):
			b.Text, b.TextX = text, x0+5
		case s.waiting && x0-6-textWidth(text) >= 0:
			// A wait that is too short to hold its words has them
			// before it, where the waiter held nothing.
			b.Text, b.TextX, b.Anchor, b.TextClass = text, x0-6, "end", "side-text waiting-text"
		case fits(shortLevel(s.level), w):
			b.Text, b.TextX = shortLevel(s.level), x0+5
		}
		l.Bars = append(l.Bars, b)
	}
	for _, r := range refused {
		l := &c.Lanes[lane[r.conn]]
		mx, my := x(r.at), l.Y+laneHeight/2
		const s = 6.0
		c.HasDenied = true
		m := chartMark{X: mx, Y: my, Level: r.level,
			Path:  fmt.Sprintf("M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f", mx-s, my-s, mx+s, my+s, mx-s, my+s, mx+s, my-s),
			TextY: my + 4,
			Title: fmt.Sprintf("conn #%d was denied %s at +%s", r.conn, r.level, ms(r.at)),
		}
		if r.stmt != "" {
			m.Title += "\n" + r.stmt
		}
		if r.label {
			// To the right of the cross, or to its left when there is
			// no room on its right.
			m.Text, m.TextX, m.Anchor = "denied "+r.level, mx+s+4, "start"
			if m.TextX+textWidth(m.Text) > c.Width {
				m.TextX, m.Anchor = mx-s-4, "end"
			}
		}
		l.Marks = append(l.Marks, m)
	}
	c.Bottom = chartTop + float64(len(order))*laneHeight
	c.Height = c.Bottom + chartBottom
	for _, t := range ticks(scaleEnd) {
		label := "+" + ms(t)
		if tx := x(t); tx+textWidth(label)/2 <= c.Width {
			c.Ticks = append(c.Ticks, chartTick{X: tx, Label: label})
		}
	}
	seen := map[string]bool{}
	var levels []string
	for _, s := range spans {
		if !seen[s.level] && !s.waiting {
			seen[s.level] = true
			levels = append(levels, s.level)
		}
	}
	sort.SliceStable(levels, func(i, j int) bool { return levelRank(levels[i]) < levelRank(levels[j]) })
	for _, lv := range levels {
		c.Legend = append(c.Legend, legendItem{Level: lv, Fill: colorOf(lv)})
	}
	c.Title = chartTitle(rep)
	return c
}

// timelineSpans turns SQLite's timeline of lock changes into the spans of
// each level each connection held, and the refusals.
func timelineSpans(rep *dbtest.LockReport) ([]span, []refusal, []int) {
	var spans []span
	var refused []refusal
	var order []int
	cur := map[int]*span{} // the level each connection holds now
	stmt := map[int]string{}
	end := time.Duration(0)
	for _, e := range rep.Timeline {
		end = max(end, e.At)
	}
	seen := map[int]bool{}
	for _, e := range rep.Timeline {
		if !seen[e.Conn] {
			seen[e.Conn] = true
			order = append(order, e.Conn)
		}
		if e.Statement != "" {
			stmt[e.Conn] = e.Statement
		}
		switch {
		case strings.Contains(e.Action, "denied"):
			refused = append(refused, refusal{conn: e.Conn, at: e.At, level: e.Lock, stmt: stmt[e.Conn], label: true})
		case e.Action == "acquired" || strings.HasPrefix(e.Action, "released"):
			if s := cur[e.Conn]; s != nil {
				s.to = e.At
				spans = append(spans, *s)
				delete(cur, e.Conn)
			}
			if e.Lock != "" && e.Lock != "NONE" {
				cur[e.Conn] = &span{conn: e.Conn, from: e.At, level: e.Lock, stmt: stmt[e.Conn]}
			}
		}
	}
	// Only the last refusal of a connection is labelled: a retry loop
	// refused again and again is a row of crosses.
	for i := range refused {
		for j := i + 1; j < len(refused); j++ {
			if refused[j].conn == refused[i].conn {
				refused[i].label = false
				break
			}
		}
	}
	for _, conn := range order {
		if s := cur[conn]; s != nil {
			s.to, s.open = end, true
			spans = append(spans, *s)
		}
	}
	// The waiter may have waited without a denial on the timeline.
	if w := rep.Waiter.ID; seen[w] && !hasRefusal(refused, w) && rep.Wanted != "" && rep.Waited > 0 {
		spans = append(spans, span{conn: w, from: max(0, end-rep.Waited), to: end, level: rep.Wanted, waiting: true, stmt: rep.Statement})
	}
	return spans, refused, order
}

func hasRefusal(refused []refusal, conn int) bool {
	for _, r := range refused {
		if r.conn == conn {
			return true
		}
	}
	return false
}

// holderSpans draws a server's report, which has no timeline: each holder's
// lock from when it took it (or for as long as it held it) to the report,
// and the waiter's wait up to the report.
func holderSpans(rep *dbtest.LockReport) ([]span, []refusal, []int) {
	end := rep.Waited
	for _, h := range rep.Holders {
		if h.Since >= 0 {
			end = max(end, h.Since+h.HeldFor)
		} else {
			end = max(end, h.HeldFor)
		}
	}
	var spans []span
	var order []int
	seen := map[int]bool{}
	add := func(conn int) {
		if !seen[conn] {
			seen[conn] = true
			order = append(order, conn)
		}
	}
	for _, h := range rep.Holders {
		from := end - h.HeldFor
		if h.Since >= 0 {
			from = h.Since
		}
		add(h.Conn.ID)
		spans = append(spans, span{conn: h.Conn.ID, from: max(0, from), to: end, level: h.Lock, stmt: h.Statement, open: true})
	}
	var refused []refusal
	if rep.Waiter.ID != 0 || rep.Statement != "" {
		add(rep.Waiter.ID)
		wanted := rep.Wanted
		if wanted == "" {
			wanted = "a lock"
		}
		spans = append(spans, span{conn: rep.Waiter.ID, from: max(0, end-rep.Waited), to: end, level: wanted, waiting: true, stmt: rep.Statement})
		refused = append(refused, refusal{conn: rep.Waiter.ID, at: end, level: wanted, stmt: rep.Statement})
	}
	return spans, refused, order
}

// connInfos indexes the connections a report describes.
func connInfos(rep *dbtest.LockReport) map[int]dbtest.ConnInfo {
	m := map[int]dbtest.ConnInfo{rep.Waiter.ID: rep.Waiter}
	for _, h := range rep.Holders {
		m[h.Conn.ID] = h.Conn
	}
	return m
}

// laneLabel names a connection: its number and who opened it, and where.
func laneLabel(conn int, ci dbtest.ConnInfo) (label, sub, role string) {
	label = fmt.Sprintf("conn #%d", conn)
	switch ci.Role {
	case dbtest.RoleTestTx:
		return label + " · test transaction", ci.Location, "test"
	case dbtest.RoleRaw:
		return label + " · separate", ci.Location, "raw"
	}
	return label, "", "other"
}

func chartTitle(rep *dbtest.LockReport) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s, database %s: conn #%d wanted %s", rep.Backend, rep.Database, rep.Waiter.ID, or(rep.Wanted, "a lock"))
	switch {
	case rep.Deadlock:
		b.WriteString(" and was chosen as the deadlock victim")
	case rep.SelfDeadlock:
		fmt.Fprintf(&b, "; self-deadlock, given up after %s", FormatDuration(rep.Waited))
	default:
		fmt.Fprintf(&b, "; gave up after %s", FormatDuration(rep.Waited))
	}
	return b.String()
}

func or(s, alt string) string {
	if s == "" {
		return alt
	}
	return s
}

// levelRank orders SQLite's levels by strength, and other locks after
// them in the order given.
func levelRank(level string) int {
	for i, l := range sqliteLevels {
		if l == level {
			return i
		}
	}
	return len(sqliteLevels)
}

// shortLevel abbreviates a lock's name for a narrow bar.
func shortLevel(level string) string {
	if len(level) > 0 && levelRank(level) < len(sqliteLevels) {
		return level[:1]
	}
	if i := strings.IndexByte(level, ' '); i > 0 {
		return level[:i]
	}
	return ""
}

// textWidth estimates the width of text in the chart's font, 12px
// sans-serif: about 6.6 units a character.
func textWidth(s string) float64 { return 6.6 * float64(len([]rune(s))) }

func fits(s string, w float64) bool { return s != "" && textWidth(s)+10 <= w }

// ms prints a time of a timeline: milliseconds with a precision that fits
// its size.
func ms(d time.Duration) string {
	f := float64(d) / float64(time.Millisecond)
	switch {
	case f == 0:
		return "0ms"
	case f < 0.1:
		return fmt.Sprintf("%.3fms", f)
	case f < 10:
		return fmt.Sprintf("%.2fms", f)
	case f < 1000:
		return fmt.Sprintf("%.1fms", f)
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// ticks chooses about five round times between 0 and end.
func ticks(end time.Duration) []time.Duration {
	if end <= 0 {
		return nil
	}
	raw := float64(end) / 5
	mag := math.Pow(10, math.Floor(math.Log10(raw)))
	step := mag
	for _, m := range []float64{1, 2, 5, 10} {
		if m*mag >= raw {
			step = m * mag
			break
		}
	}
	var out []time.Duration
	for t := 0.0; t <= float64(end)+1e-9; t += step {
		out = append(out, time.Duration(math.Round(t)))
	}
	return out
}
