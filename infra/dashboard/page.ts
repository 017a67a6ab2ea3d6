/**
 * The dashboard's one HTML page: a runs table rendered on the server (works without scripts)
 * and a small inline script (CSP nonce) that polls `/api/runs` and rebuilds the rows with DOM
 * calls and textContent only, so no run field is ever parsed as HTML.
 */
import { NO_METRICS_REASON } from '../../ml/metrics';
import { escapeHtml as esc } from '../report/html';
import { etaText } from './eta';
import { SITE_RE, type RunRow } from './sources';

/** An ISO time as the dashboard shows it: "2026-12-03 10:00:00Z" (no 'T', no fraction). */
export function utcText(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

/** "2.34 mm", "12.30 px" (no pixel spacing) or "–" (no metrics). */
const fmtMre = (v: number | undefined, unit: string | undefined): string => (v === undefined || !Number.isFinite(v) ? '–' : `${v.toFixed(2)} ${unit === 'px' ? 'px' : 'mm'}`);

function progressText(r: RunRow): string {
  if (r.live && r.status === 'running') {
    const l = r.live;
    const steps = l.totalSteps > 0 ? ` ${l.step}/${l.totalSteps}` : '';
    const shards = l.shardCount ? ` shards ${l.shardsDone ?? 0}/${l.shardCount}` : '';
    const loss = l.loss !== undefined && Number.isFinite(l.loss) ? ` loss ${l.loss.toPrecision(4)}` : '';
    const eta = etaText(l, Date.now());
    return `${l.stage}${steps}${shards}${loss}${eta ? ` · ${eta}` : ''}${r.waitingFor ? ` · waiting for ${r.waitingFor}` : ''}`;
  }
  return '';
}

/** Dataset versions are 64-hex content hashes: show the first 12 (full value in the tooltip). */
function shortVersion(v: string | undefined): string {
  if (v === undefined || v === '') return '–';
  return v.length > 16 ? `${v.slice(0, 12)}…` : v;
}

function pct(v: number | undefined): number {
  return v === undefined || !Number.isFinite(v) ? 0 : Math.max(0, Math.min(100, Math.round(v * 100)));
}

function mreTitle(r: RunRow): string {
  const title = r.mreMm === undefined ? (r.status === 'completed' ? NO_METRICS_REASON : '') : r.mreUnit === 'px' ? 'in pixels: no pixel spacing known' : '';
  return title ? ` title="${esc(title)}"` : '';
}

export function renderRow(r: RunRow): string {
  const report =
    r.status === 'completed'
      ? `<a class="report" href="/runs/${esc(encodeURIComponent(r.runId))}/report">report</a>`
      : '<span class="muted">–</span>';
  return `<tr data-run-id="${esc(r.runId)}" data-status="${esc(r.status)}">
<td class="mono">${esc(r.runId)}</td>
<td><span class="status status-${esc(r.status)}">${esc(r.status)}</span></td>
<td>${esc(r.stage ?? '–')}</td>
<td><div class="bar"><div style="width:${pct(r.progress)}%"></div></div><span class="pct">${pct(r.progress)}%</span> <span class="live">${esc(progressText(r))}</span></td>
<td>${r.site !== undefined && SITE_RE.test(r.site) ? `<a href="/sites/${esc(r.site)}">${esc(r.site)}</a>` : esc(r.site ?? '–')}</td>
<td>${esc(r.profile ?? '–')}</td>
<td class="num mre"${mreTitle(r)}>${esc(fmtMre(r.mreMm, r.mreUnit))}</td>
<td class="mono small" title="${esc(r.datasetVersion ?? '')}">${esc(shortVersion(r.datasetVersion))}</td>
<td class="small nowrap">${esc(utcText(r.startTime))}</td>
<td>${report}</td></tr>`;
}

export const CSS = `
body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;background:#f6f7f9;color:#1b1f24}
header{background:#1f2937;color:#fff;padding:14px 24px;display:flex;align-items:baseline;gap:18px}
header h1{margin:0;font-size:19px}
header .sub{opacity:.75;font-size:12px}
main{padding:16px 24px}
table{border-collapse:collapse;background:#fff;border:1px solid #e3e6ea;width:100%}
th,td{padding:6px 9px;border-bottom:1px solid #eceff2;text-align:left;vertical-align:middle}
thead th{background:#f1f3f5;font-size:12px;text-transform:uppercase;letter-spacing:.03em;color:#4b5563}
.num{text-align:right;font-variant-numeric:tabular-nums}
.mono{font-family:ui-monospace,"DejaVu Sans Mono",monospace;font-size:12px}
.small{font-size:12px;color:#4b5563}
.muted{color:#9ca3af}
.nowrap,td.mre{white-space:nowrap}
.status{border-radius:10px;padding:1px 8px;font-size:12px;font-weight:600;background:#e5e7eb}
.status-completed{background:#dcfce7;color:#166534}
.status-running{background:#dbeafe;color:#1e40af}
.status-failed,.status-terminated,.status-timed_out{background:#fee2e2;color:#991b1b}
.status-cancelled{background:#fef3c7;color:#92400e}
.bar{display:inline-block;width:90px;height:8px;background:#e5e7eb;border-radius:4px;vertical-align:middle;overflow:hidden}
.bar div{height:100%;background:#3b82f6}
.pct{font-size:12px;margin-left:6px}
.live{font-size:12px;color:#1e40af}
#error{display:none;background:#fee2e2;color:#991b1b;padding:8px 12px;margin-bottom:12px;border-radius:6px}
.empty{padding:18px;color:#6b7280}
a{color:#1d4ed8}
`;

/** Client script: polls /api/runs and rebuilds the table body without innerHTML. */
const SCRIPT = `
(function(){
  var NO_METRICS=${JSON.stringify(NO_METRICS_REASON)};var SITE_RE=${SITE_RE.toString()};
  var tbody=document.getElementById('runs');var err=document.getElementById('error');var upd=document.getElementById('updated');
  function el(tag,cls,text){var e=document.createElement(tag);if(cls)e.className=cls;if(text!==undefined)e.textContent=text;return e;}
  function pct(v){return (typeof v!=='number'||!isFinite(v))?0:Math.max(0,Math.min(100,Math.round(v*100)));}
  function mre(v,u){return (typeof v!=='number'||!isFinite(v))?'\\u2013':v.toFixed(2)+(u==='px'?' px':' mm');}
  function dur(x){x=Math.max(0,Math.round(x));function p2(n){return (n<10?'0':'')+n;}return x<60?x+' s':x<3600?Math.floor(x/60)+' min '+p2(x%60)+' s':Math.floor(x/3600)+' h '+p2(Math.floor((x%3600)/60))+' min';}
  function eta(l){if(typeof l.etaSeconds!=='number'||!l.measuredAt)return '';var at=Date.parse(l.measuredAt);if(!isFinite(at))return '';var s='ETA '+dur(l.etaSeconds-Math.max(0,Date.now()-at)/1000);var r=l.stepsPerSecond;if(typeof r==='number'&&r>0)s+=' ('+(r>=1?r.toFixed(1)+' steps/s':(1/r).toFixed(2)+' s/step')+')';return s;}
  function live(r){if(!r.live||r.status!=='running')return '';var l=r.live;var s=l.stage;if(l.totalSteps>0)s+=' '+l.step+'/'+l.totalSteps;if(l.shardCount)s+=' shards '+(l.shardsDone||0)+'/'+l.shardCount;if(typeof l.loss==='number'&&isFinite(l.loss))s+=' loss '+l.loss.toPrecision(4);var e=eta(l);if(e)s+=' \\u00b7 '+e;if(r.waitingFor)s+=' \\u00b7 waiting for '+r.waitingFor;return s;}
  function row(r){
    var tr=el('tr');tr.setAttribute('data-run-id',r.runId);tr.setAttribute('data-status',r.status);
    tr.appendChild(el('td','mono',r.runId));
    var st=el('td');st.appendChild(el('span','status status-'+String(r.status).replace(/[^a-z_]/g,''),r.status));tr.appendChild(st);
    tr.appendChild(el('td','',r.stage||'\\u2013'));
    var p=el('td');var bar=el('div','bar');var fill=el('div');fill.style.width=pct(r.progress)+'%';bar.appendChild(fill);p.appendChild(bar);
    p.appendChild(el('span','pct',pct(r.progress)+'%'));p.appendChild(document.createTextNode(' '));p.appendChild(el('span','live',live(r)));tr.appendChild(p);
    var sc=el('td');if(typeof r.site==='string'&&SITE_RE.test(r.site)){var sa=el('a','',r.site);sa.href='/sites/'+r.site;sc.appendChild(sa);}else{sc.textContent=r.site||'\\u2013';}tr.appendChild(sc);tr.appendChild(el('td','',r.profile||'\\u2013'));
    var m=el('td','num mre',mre(r.mreMm,r.mreUnit));var mt=typeof r.mreMm!=='number'?(r.status==='completed'?NO_METRICS:''):(r.mreUnit==='px'?'in pixels: no pixel spacing known':'');if(mt)m.title=mt;tr.appendChild(m);
    var dv=r.datasetVersion||'';var dtd=el('td','mono small',dv===''?'\\u2013':(dv.length>16?dv.slice(0,12)+'\\u2026':dv));dtd.title=dv;tr.appendChild(dtd);
    tr.appendChild(el('td','small nowrap',String(r.startTime).replace('T',' ').replace(/\\.\\d+Z$/,'Z')));
    var rep=el('td');if(r.status==='completed'){var a=el('a','report','report');a.href='/runs/'+encodeURIComponent(r.runId)+'/report';rep.appendChild(a);}else{rep.appendChild(el('span','muted','\\u2013'));}
    tr.appendChild(rep);return tr;
  }
  function poll(){
    fetch('/api/runs',{credentials:'same-origin',cache:'no-store'}).then(function(res){if(!res.ok)throw new Error('HTTP '+res.status);return res.json();}).then(function(j){
      err.style.display='none';
      if(j.error){err.textContent=j.error;err.style.display='block';}
      var frag=document.createDocumentFragment();j.runs.forEach(function(r){frag.appendChild(row(r));});
      tbody.replaceChildren(frag);
      document.getElementById('empty').style.display=j.runs.length?'none':'block';
      upd.textContent='updated '+new Date().toLocaleTimeString();
      var anyRunning=j.runs.some(function(r){return r.status==='running';});
      setTimeout(poll,anyRunning?2000:10000);
    }).catch(function(e){err.textContent='Cannot refresh: '+e.message;err.style.display='block';setTimeout(poll,5000);});
  }
  setTimeout(poll,2000);
})();
`;

export function renderDashboardPage(rows: RunRow[], opts: { nonce: string; namespace: string; site?: string; error?: string }): string {
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>cc2d runs</title><style>${CSS}</style></head>
<body><header><h1>cc2d runs</h1><span class="sub">Temporal namespace ${esc(opts.namespace)}${opts.site ? ` · site ${esc(opts.site)}` : ''} · read-only · <span id="updated">live</span></span></header>
<main><div id="error"${opts.error ? ' style="display:block"' : ''}>${esc(opts.error ?? '')}</div>
<table><thead><tr><th>Run</th><th>Status</th><th>Stage</th><th>Progress</th><th>Site</th><th>Profile</th><th class="num">MRE (A)</th><th>Dataset</th><th>Started (UTC)</th><th>Report</th></tr></thead>
<tbody id="runs">${rows.map(renderRow).join('')}</tbody></table>
<div id="empty" class="empty"${rows.length ? ' style="display:none"' : ''}>No cc2d runs in this namespace yet. Start one with <code>npx cc2d run --profile smoke</code>.</div>
</main>
<script nonce="${esc(opts.nonce)}">${SCRIPT}</script>
</body></html>
`;
}
