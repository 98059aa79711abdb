package main

import (
	"fmt"
	"image/color"
	"os"

	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
)

// benchPlotColors colours the failed line and hosts h1..h3.
var benchPlotColors = []color.Color{
	color.RGBA{R: 0xd6, G: 0x27, B: 0x28, A: 0xff},
	color.RGBA{R: 0x1f, G: 0x77, B: 0xb4, A: 0xff},
	color.RGBA{R: 0x2c, G: 0xa0, B: 0x2c, A: 0xff},
	color.RGBA{R: 0xff, G: 0x7f, B: 0x0e, A: 0xff},
}

// writeFailoverPlot draws one panel per system: every probe at the time it
// was sent (0 = the fault), on the line of the host that answered it or on
// the "failed" line. All panels share the time axis.
func writeFailoverPlot(path string, systems []string, timelines map[string][]benchPoint) error {
	if len(systems) == 0 {
		return fmt.Errorf("no hard-crash timeline to plot")
	}
	xmin, xmax := 0.0, 0.5
	for _, sys := range systems {
		for _, p := range timelines[sys] {
			xmin, xmax = min(xmin, p.T), max(xmax, p.T)
		}
	}
	rows := make([][]*plot.Plot, len(systems))
	for i, sys := range systems {
		p := plot.New()
		p.Title.Text = sys + ": owner killed and its link pulled at t = 0"
		p.X.Label.Text = "seconds since the fault"
		p.X.Min, p.X.Max = xmin-0.05, xmax+0.05
		p.Y.Min, p.Y.Max = -0.5, 3.5
		p.Y.Tick.Marker = plot.ConstantTicks([]plot.Tick{{Value: 0, Label: "failed"}, {Value: 1, Label: "h1"},
			{Value: 2, Label: "h2"}, {Value: 3, Label: "h3"}})
		grid := plotter.NewGrid()
		grid.Vertical.Color = color.Gray{Y: 0xe0}
		grid.Horizontal.Color = color.Gray{Y: 0xe0}
		p.Add(grid)
		lines := make([]plotter.XYs, 4)
		for _, pt := range timelines[sys] {
			y := 0
			if pt.OK {
				y = hostLine(pt.Host)
			}
			lines[y] = append(lines[y], plotter.XY{X: pt.T, Y: float64(y)})
		}
		for y, xys := range lines {
			if len(xys) == 0 {
				continue
			}
			s, err := plotter.NewScatter(xys)
			if err != nil {
				return err
			}
			s.GlyphStyle.Color = benchPlotColors[y]
			s.GlyphStyle.Radius = vg.Points(1.6)
			s.GlyphStyle.Shape = draw.CircleGlyph{}
			p.Add(s)
		}
		rows[i] = []*plot.Plot{p}
	}
	const panelHeight = 170
	img := vgimg.New(vg.Points(820), vg.Points(float64(panelHeight*len(systems))))
	dc := draw.New(img)
	tiles := draw.Tiles{Rows: len(systems), Cols: 1, PadTop: vg.Points(6), PadBottom: vg.Points(6),
		PadLeft: vg.Points(6), PadRight: vg.Points(12), PadY: vg.Points(10)}
	canvases := plot.Align(rows, tiles, dc)
	for i := range rows {
		rows[i][0].Draw(canvases[i][0])
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

// hostLine maps h1..h3 to their line; anything else to the failed line.
func hostLine(host string) int {
	switch host {
	case "h1":
		return 1
	case "h2":
		return 2
	case "h3":
		return 3
	}
	return 0
}

// writeFleetCrashPlot draws, after the crash of one fleet host, how many of
// the VIPs it owned the client reached on a new owner by each moment;
// answeredMS are those moments, in milliseconds since the fault, sorted.
func writeFleetCrashPlot(path, title string, answeredMS []float64) error {
	if len(answeredMS) == 0 {
		return fmt.Errorf("no crash times to plot")
	}
	xys := plotter.XYs{{X: 0, Y: 0}}
	for i, ms := range answeredMS {
		xys = append(xys, plotter.XY{X: ms / 1000, Y: float64(i + 1)})
	}
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "seconds since the fault"
	p.Y.Label.Text = "moved VIPs answered by their new owner"
	p.X.Min, p.X.Max = 0, answeredMS[len(answeredMS)-1]/1000*1.1
	p.Y.Min, p.Y.Max = 0, float64(len(answeredMS))*1.05
	grid := plotter.NewGrid()
	grid.Vertical.Color = color.Gray{Y: 0xe0}
	grid.Horizontal.Color = color.Gray{Y: 0xe0}
	p.Add(grid)
	line, err := plotter.NewLine(xys)
	if err != nil {
		return err
	}
	line.StepStyle = plotter.PostStep
	line.Color = benchPlotColors[1]
	line.Width = vg.Points(1.5)
	p.Add(line)
	return p.Save(vg.Points(820), vg.Points(320), path)
}
