package main

import (
	"fmt"
	"image/color"
	"os"
	"path/filepath"
	"strconv"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// spread is one bar per variant: the median and the min–max range.
type spread struct {
	med, lo, hi []float64
}

func (s spread) Len() int                    { return len(s.med) }
func (s spread) Value(i int) float64         { return s.med[i] }
func (s spread) XY(i int) (float64, float64) { return float64(i), s.med[i] }
func (s spread) YError(i int) (float64, float64) {
	return s.med[i] - s.lo[i], s.hi[i] - s.med[i]
}

var (
	colorBaseline = color.RGBA{R: 0x9e, G: 0x9e, B: 0x9e, A: 0xff} // Envoy alone
	colorNative   = color.RGBA{R: 0x42, G: 0x85, B: 0xf4, A: 0xff} // Envoy's stateful_session
	colorFilter   = color.RGBA{R: 0x0f, G: 0x9d, B: 0x58, A: 0xff} // vcap-sticky
	colorFloor    = color.RGBA{R: 0xf4, G: 0xb4, B: 0x00, A: 0xff} // empty Go filter
	colorWasm     = color.RGBA{R: 0xab, G: 0x47, B: 0xbc, A: 0xff} // runtime-less Wasm modules
	colorLua      = color.RGBA{R: 0xdb, G: 0x44, B: 0x37, A: 0xff} // Envoy's Lua filter
)

func variantColor(key string) color.Color {
	switch key {
	case "A", "Anew", "Aoh":
		return colorBaseline
	case "B":
		return colorNative
	case "F", "Fmiss", "G4":
		return colorFloor
	case "W0", "W4", "W4new":
		return colorWasm
	case "L":
		return colorLua
	}
	return colorFilter
}

// barPanel draws one figure per variant as bars (median) with min–max
// whiskers, one colour per kind of setup.
func barPanel(b *bench, title, ylabel string, f func(run1) float64) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.Y.Label.Text = ylabel
	p.Y.Min = 0
	p.Y.Tick.Marker = plainTicks{}
	var names []string
	all := spread{}
	for i, v := range b.order {
		xs := b.values(v.Key, f)
		lo, hi := minMax(xs)
		med := median(xs)
		names = append(names, v.Key)
		all.med, all.lo, all.hi = append(all.med, med), append(all.lo, lo), append(all.hi, hi)
		// One bar chart per variant, so that each gets its colour.
		one := make(plotter.Values, len(b.order))
		one[i] = med
		bars, err := plotter.NewBarChart(one, vg.Points(20))
		if err != nil {
			return nil, err
		}
		bars.Color = variantColor(v.Key)
		bars.LineStyle.Width = 0
		p.Add(bars)
	}
	errs, err := plotter.NewYErrorBars(all)
	if err != nil {
		return nil, err
	}
	errs.LineStyle.Width = vg.Points(1.2)
	errs.CapWidth = vg.Points(8)
	p.Add(errs)
	labels, err := plotter.NewLabels(plotter.XYLabels{XYs: labelPositions(all), Labels: labelTexts(all)})
	if err != nil {
		return nil, err
	}
	for i := range labels.TextStyle {
		labels.TextStyle[i].XAlign = draw.XCenter
		labels.TextStyle[i].Font.Size = vg.Points(8)
	}
	p.Add(labels)
	p.NominalX(names...)
	p.Y.Max = 0
	for i := range all.hi {
		p.Y.Max = max(p.Y.Max, all.hi[i]*1.12)
	}
	return p, nil
}

func labelPositions(s spread) plotter.XYs {
	xy := make(plotter.XYs, s.Len())
	for i := range xy {
		xy[i].X, xy[i].Y = float64(i), s.hi[i]*1.02
	}
	return xy
}

func labelTexts(s spread) []string {
	out := make([]string, s.Len())
	for i := range out {
		switch m := s.med[i]; {
		case m >= 100:
			out[i] = fmt.Sprintf("%.0f", m)
		default:
			out[i] = fmt.Sprintf("%.1f", m)
		}
	}
	return out
}

// writeChart renders requests/s and Envoy's CPU time per request side by
// side, as one PNG.
func writeChart(b *bench, path string) error {
	left, err := barPanel(b, "Throughput (median, min–max over rounds)", "requests/s", rps)
	if err != nil {
		return err
	}
	right, err := barPanel(b, "Envoy CPU time per request", "µs", run1.cpuPerReq)
	if err != nil {
		return err
	}
	const w, h = 13 * vg.Inch, 4.4 * vg.Inch
	img := vgimg.NewWith(vgimg.UseWH(w, h), vgimg.UseDPI(110))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Points(18), PadTop: vg.Points(6), PadBottom: vg.Points(38), PadLeft: vg.Points(6), PadRight: vg.Points(6)}
	canvases := plot.Align([][]*plot.Plot{{left, right}}, tiles, dc)
	left.Draw(canvases[0][0])
	right.Draw(canvases[0][1])
	legend := []string{
		"A, Anew, Aoh: Envoy alone (grey)   B: Envoy stateful_session (blue)   C, D, E, S, Sforged, Snew: vcap-sticky (green)",
		"F, Fmiss, G4: floors of a Go Wasm filter (yellow)   W0, W4, W4new: runtime-less Wasm floors (purple)   L: Lua script (red)",
	}
	for i, line := range legend {
		dc.FillText(draw.TextStyle{Color: color.Black, Font: left.Title.TextStyle.Font, XAlign: draw.XCenter, Handler: left.Title.TextStyle.Handler},
			vg.Point{X: w / 2, Y: vg.Points(float64(20 - 14*i))}, line)
	}

	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if _, err := (vgimg.PngCanvas{Canvas: img}).WriteTo(f); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// plainTicks are plot's default ticks labelled without trailing zeros
// ("25000", not "25000.00").
type plainTicks struct{}

func (plainTicks) Ticks(min, max float64) []plot.Tick {
	ticks := plot.DefaultTicks{}.Ticks(min, max)
	for i := range ticks {
		if ticks[i].Label != "" {
			ticks[i].Label = strconv.FormatFloat(ticks[i].Value, 'f', -1, 64)
		}
	}
	return ticks
}
