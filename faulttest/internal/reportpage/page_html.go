package reportpage

// pageHTML is the template of the HTML report, executed with a pageView.
// It must stay self-contained: no scripts, no links, no fonts or images
// from elsewhere (the SVG is inline and needs no xmlns in HTML).
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.Title}} · load report</title>
<style>
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1f2937; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1160px; margin: 0 auto; padding: 18px 20px 32px; }
h1 { font-size: 21px; margin: 0 0 2px; word-break: break-word; }
h2 { font-size: 15px; margin: 22px 0 8px; }
.meta { color: #6b7280; margin: 0 0 12px; }
.legend { display: flex; flex-wrap: wrap; gap: 6px 18px; margin: 0 0 10px; color: #374151; font-size: 13px; }
.legend span { display: inline-flex; align-items: center; gap: 6px; }
.sw { display: inline-block; width: 18px; height: 3px; border-radius: 2px; }
.sw.box { height: 12px; border-radius: 2px; }
.chart { display: block; width: 100%; height: auto; background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; margin: 0 0 10px; }
.chart text { font-size: 11px; fill: #4b5563; }
.chart .ctitle { font-size: 14px; font-weight: 600; fill: #111827; }
.chart .unit { font-size: 12px; fill: #6b7280; }
.chart .wlabel { font-size: 11px; fill: #9a3412; }
.chart .grid { stroke: #e5e7eb; stroke-width: 1; }
.chart .axis { stroke: #9ca3af; stroke-width: 1; }
.chart .series { fill: none; stroke-width: 1.8; stroke-linejoin: round; stroke-linecap: round; }
.tables { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 0 28px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid #e5e7eb; }
th, td { text-align: left; padding: 5px 10px; border-bottom: 1px solid #eef0f3; vertical-align: top; word-break: break-word; }
th { background: #f9fafb; font-weight: 600; white-space: nowrap; word-break: normal; }
.chart .wedge { stroke: #c2410c; stroke-width: 1.2; stroke-dasharray: 4 3; }
.warning { background: #fef2f2; border: 2px solid #dc2626; color: #991b1b; font-weight: 600; padding: 8px 12px; margin: 12px 0; }
table.summary td:first-child { color: #4b5563; white-space: pre; }
table.summary td:last-child { font-variant-numeric: tabular-nums; }
ol.samples { background: #fff; border: 1px solid #e5e7eb; margin: 0; padding: 8px 12px 8px 36px; }
ol.samples li { margin: 3px 0; }
ol.samples code { font: 12.5px/1.4 ui-monospace, "DejaVu Sans Mono", monospace; white-space: pre-wrap; word-break: break-word; }
.none { color: #6b7280; font-style: italic; }
footer { margin-top: 24px; color: #9ca3af; font-size: 12px; }
@media (max-width: 800px) { .tables { grid-template-columns: 1fr; } }
</style>
</head>
<body>
<main>
<h1>{{.Title}}</h1>
{{range .Warnings}}<p class="warning">⚠ {{.}}</p>
{{end}}<p class="meta">{{if .Started}}started {{.Started}} · {{end}}ran {{.Duration}} · one point per {{.Bucket}} · time axis: since the start of the run</p>
<div class="legend">
<span><i class="sw" style="background:{{.Colors.throughput}}"></i>requests/s</span>
<span><i class="sw" style="background:{{.Colors.errors}}"></i>error rate</span>
<span><i class="sw" style="background:{{.Colors.p50}}"></i>p50 latency</span>
<span><i class="sw" style="background:{{.Colors.p99}}"></i>p99 latency</span>
<span><i class="sw box" style="background:{{.Shade}}"></i>fault in force (hover for the behaviors)</span>
<span><b style="color:{{.Colors.mark}}">▼</b>faults fired (hover for counts)</span>
</div>
{{range .Charts}}{{$c := .}}
<svg class="chart" id="chart-{{.ID}}" viewBox="0 0 {{num .Width}} {{num .Height}}" width="{{num .Width}}" height="{{num .Height}}" role="img" aria-label="{{.Title}} ({{.YLabel}}) over time">
<g class="windows">{{range .Windows}}<rect class="fault" x="{{num .X}}" y="{{num $c.PlotY}}" width="{{num .W}}" height="{{num $c.PlotH}}" fill="{{$.Shade}}"><title>{{.Title}}</title></rect><line class="wedge" x1="{{num .X}}" x2="{{num .X}}" y1="{{num $c.PlotY}}" y2="{{num $c.PlotBot}}"/>{{end}}</g>
<g class="yaxis">{{range .YTicks}}<line class="grid" x1="{{num $c.PlotX}}" x2="{{num (add $c.PlotX $c.PlotW)}}" y1="{{num .Pos}}" y2="{{num .Pos}}"/><text x="{{num (add $c.PlotX -6)}}" y="{{num (add .Pos 4)}}" text-anchor="end">{{.Label}}</text>{{end}}</g>
<g class="xaxis"><line class="axis" x1="{{num $c.PlotX}}" x2="{{num (add $c.PlotX $c.PlotW)}}" y1="{{num $c.PlotBot}}" y2="{{num $c.PlotBot}}"/>{{range .XTicks}}<line class="axis" x1="{{num .Pos}}" x2="{{num .Pos}}" y1="{{num $c.PlotBot}}" y2="{{num (add $c.PlotBot 5)}}"/><text x="{{num .Pos}}" y="{{num (add $c.PlotBot 18)}}" text-anchor="middle">{{.Label}}</text>{{end}}</g>
<text class="ctitle" x="{{num .PlotX}}" y="20">{{.Title}}</text>
<text class="unit" transform="translate(18 {{num (add .PlotY (half .PlotH))}}) rotate(-90)" text-anchor="middle">{{.YLabel}}</text>
{{if .ShowWins}}<g class="wlabels">{{range .Windows}}{{$w := .}}{{if .Lines}}<text class="wlabel" x="{{num (add .X 4)}}" y="{{num (add $c.PlotY 13)}}">{{range $i, $l := .Lines}}<tspan x="{{num (add $w.X 4)}}" dy="{{if $i}}13{{else}}0{{end}}">{{$l}}</tspan>{{end}}<title>{{.Title}}</title></text>{{end}}{{end}}</g>
{{end}}{{range $i, $s := .Series}}<g class="series" id="series-{{$c.ID}}-{{$i}}">
{{if .Area}}<polygon points="{{.Area}}" fill="{{.Color}}" fill-opacity="0.12" stroke="none"/>{{end}}{{range .Segments}}<polyline class="series" points="{{.}}" stroke="{{$s.Color}}"/>{{end}}{{range .Dots}}<circle cx="{{num .X}}" cy="{{num .Y}}" r="2.2" fill="{{$s.Color}}"/>{{end}}
</g>
{{end}}{{if .Keys}}<g class="keys">{{range .Keys}}<line x1="{{num .X}}" x2="{{num (add .X 18)}}" y1="16" y2="16" stroke="{{.Color}}" stroke-width="2.5"/><text x="{{num (add .X 24)}}" y="20">{{.Name}}</text>{{end}}</g>
{{end}}{{if .Empty}}<text class="unit" x="{{num (add .PlotX (half .PlotW))}}" y="{{num (add .PlotY (half .PlotH))}}" text-anchor="middle">no calls recorded</text>
{{end}}<g class="marks">{{range .Marks}}<polygon class="mark" points="{{num (add .X -4.5)}},{{num (add $c.PlotY -11)}} {{num (add .X 4.5)}},{{num (add $c.PlotY -11)}} {{num .X}},{{num (add $c.PlotY -3)}}" fill="{{$.Colors.mark}}"><title>{{.Title}}</title></polygon>{{end}}</g>
</svg>{{end}}
<div class="tables">
<section>
<h2>Summary</h2>
{{if .Summary}}<table class="summary"><tbody>{{range .Summary}}<tr><td>{{index . 0}}</td><td>{{index . 1}}</td></tr>{{end}}</tbody></table>{{else}}<p class="none">no summary</p>{{end}}
</section>
<section>
<h2>Fault windows</h2>
{{if .Windows}}<table class="windows"><thead><tr><th>from</th><th>to</th><th>behaviors in force</th></tr></thead><tbody>{{range .Windows}}<tr><td>{{.From}}</td><td>{{.To}}</td><td>{{.Label}}</td></tr>{{end}}{{if .MoreWindows}}<tr><td colspan="3" class="none">and {{.MoreWindows}} more</td></tr>{{end}}</tbody></table>{{else}}<p class="none">no faults were in force</p>{{end}}
</section>
</div>
<h2>Faults fired</h2>
{{if .Fired}}<ol class="samples">{{range .Fired}}<li><code>{{.}}</code></li>{{end}}</ol>{{if .MoreFired}}<p class="none">and {{.MoreFired}} more</p>{{end}}{{else}}<p class="none">none recorded</p>{{end}}
<h2>Sampled errors</h2>
{{if .Samples}}<ol class="samples">{{range .Samples}}<li><code>{{.}}</code></li>{{end}}</ol>{{if .MoreSamples}}<p class="none">and {{.MoreSamples}} more</p>{{end}}{{else}}<p class="none">no errors</p>{{end}}
<footer>written by github.com/gofaults/faults/faulttest</footer>
</main>
</body>
</html>
`
