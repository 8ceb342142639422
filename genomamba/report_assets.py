"""The report page's inline style sheet and script (no network: everything is in the one file).

The page reads completely without the script: every table is written out in full, every figure is
inline SVG. The script only adds, above each table of class ``data``, a filter box (rows containing
the typed text) and a "TSV" button (the table as tab-separated text, made in the browser), and makes
the column headers sort the rows (numbers by the cell's ``data-v`` value or its leading number).
On success it sets ``data-ready`` on ``<body>`` (checked by the browser test).
"""

CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#222;margin:0;background:#fafafa}
.page{display:flex;max-width:1400px;margin:0 auto}
nav.toc{position:sticky;top:0;align-self:flex-start;max-height:100vh;overflow-y:auto;min-width:11em;
 padding:1.2em .8em;font-size:.9em;box-sizing:border-box}
nav.toc a{display:block;color:#0072B2;text-decoration:none;padding:.15em 0}nav.toc a:hover{text-decoration:underline}
main{flex:1;min-width:0;padding:1em 2em 4em;background:#fff}
@media (max-width:900px){.page{display:block}nav.toc{position:sticky;max-height:none;background:#fff;
 border-bottom:1px solid #ddd;z-index:2;width:100%}nav.toc a{display:inline-block;margin-right:1em}}
h1{font-size:1.6em;margin-bottom:.2em}h2{border-bottom:2px solid #0072B2;padding-bottom:.2em;margin-top:2em}
h3{margin-top:1.4em}
table{border-collapse:collapse;margin:.3em 0 .8em;font-size:.88em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left;vertical-align:top}
th{background:#f0f4f8;position:sticky;top:0}th[title]{text-decoration:underline dotted #999;cursor:help}
table.data th{cursor:pointer}th[aria-sort=ascending]::after{content:" \\25B2"}th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.ok{background:#e3f4e8}.bad{background:#fbe2dc}.abstain{background:#eeeeee;color:#555}
.summary{background:#f0f4f8;border-left:4px solid #0072B2;padding:.6em 1em;font-size:1.02em}
.muted,.ci{color:#666;font-size:.85em}.n{color:#888;font-size:.8em}
details{margin:.3em 0}summary{cursor:pointer}.inner{margin-left:1.2em}
pre{background:#f6f6f6;padding:.8em;overflow-x:auto;font-size:.85em}code{font-size:.9em}
svg{max-width:100%;height:auto}.scroll{overflow-x:auto;max-height:36em;overflow-y:auto}
.swatch{display:inline-block;width:.8em;height:.8em;border-radius:50%;margin-right:.35em;vertical-align:baseline}
.tools{font-size:.85em;margin-top:.6em}.tools input{font-size:1em;padding:.1em .3em;width:14em}
.tools button{font-size:1em;margin-left:.5em;cursor:pointer}
dl.glossary dt{font-weight:bold;margin-top:.5em}dl.glossary dd{margin-left:1.5em}
figure{margin:1em 0}figcaption{font-size:.88em;color:#444}
"""

SCRIPT = r"""
(function(){
"use strict";
function cellText(c){return (c.getAttribute("data-tsv")||c.textContent).replace(/\s+/g," ").trim();}
function sortValue(c){
  var v=c.getAttribute("data-v");
  if(v===null){var m=c.textContent.replace(/,/g,"").match(/^\s*(-?\d+(\.\d+)?(e-?\d+)?)/i);v=m?m[1]:null;}
  if(v===null||v===""){return {num:false,text:c.textContent.trim().toLowerCase()};}
  return {num:true,value:parseFloat(v)};
}
function compare(a,b){
  if(a.num&&b.num){return a.value-b.value;}
  if(a.num!==b.num){return a.num?-1:1;}
  return a.text<b.text?-1:a.text>b.text?1:0;
}
function sortBy(table,col,th){
  var body=table.tBodies[0];if(!body){return;}
  var dir=th.getAttribute("aria-sort")==="ascending"?-1:1;
  var ths=table.tHead.rows[0].cells;
  for(var i=0;i<ths.length;i++){ths[i].removeAttribute("aria-sort");}
  th.setAttribute("aria-sort",dir>0?"ascending":"descending");
  var rows=Array.prototype.slice.call(body.rows);
  rows.sort(function(r1,r2){
    var c1=r1.cells[col],c2=r2.cells[col];
    if(!c1||!c2){return 0;}
    return dir*compare(sortValue(c1),sortValue(c2));
  });
  rows.forEach(function(r){body.appendChild(r);});
}
function tsv(table){
  var lines=[];
  Array.prototype.forEach.call(table.rows,function(r){
    lines.push(Array.prototype.map.call(r.cells,cellText).join("\t"));
  });
  return lines.join("\n")+"\n";
}
function download(table){
  var blob=new Blob([tsv(table)],{type:"text/tab-separated-values"});
  var a=document.createElement("a");
  a.download=(table.getAttribute("data-name")||"table")+".tsv";
  a.href=URL.createObjectURL(blob);
  document.body.appendChild(a);a.click();
  setTimeout(function(){URL.revokeObjectURL(a.href);a.remove();},0);
}
function filter(table,text){
  text=text.toLowerCase();
  Array.prototype.forEach.call(table.tBodies[0].rows,function(r){
    r.hidden=text!==""&&r.textContent.toLowerCase().indexOf(text)<0;
  });
}
Array.prototype.forEach.call(document.querySelectorAll("table.data"),function(table){
  if(!table.tHead||!table.tBodies.length){return;}
  var tools=document.createElement("div");tools.className="tools";
  var box=document.createElement("input");box.type="search";box.placeholder="filter rows";
  box.setAttribute("aria-label","filter the rows of this table");
  box.addEventListener("input",function(){filter(table,box.value);});
  var button=document.createElement("button");button.type="button";button.textContent="TSV";
  button.title="download this table as tab-separated text";
  button.addEventListener("click",function(){download(table);});
  tools.appendChild(box);tools.appendChild(button);
  var holder=table.parentNode.classList.contains("scroll")?table.parentNode:table;
  holder.parentNode.insertBefore(tools,holder);
  Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th,i){
    th.tabIndex=0;
    th.addEventListener("click",function(){sortBy(table,i,th);});
    th.addEventListener("keydown",function(e){if(e.key==="Enter"){sortBy(table,i,th);}});
  });
});
document.body.setAttribute("data-ready","1");
})();
"""
