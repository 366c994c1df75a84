/* accessmap planner's page: a form generated from the process description's scenario
   schema, a progress bar, the results, and the list of earlier jobs.  No framework, no CDN;
   every server-supplied string is shown with textContent (never innerHTML). */
(function () {
  "use strict";
  var MAIN = ["analysis.mode", "analysis.thresholds_min", "siting.new_sites", "facilities.exclude"];
  var SECTIONS = ["analysis", "siting", "facilities", "speeds"];
  var datasets = {};
  var fields = [];   // {path, kind, input, initial}
  var current = null;
  var selectAfterLoad = null;  // the id of a dataset just uploaded
  var UPLOAD = "up-";

  function $(id) { return document.getElementById(id); }
  function key() { return sessionStorage.getItem("accessmap-key") || ""; }
  function el(tag, text) { var e = document.createElement(tag); if (text !== undefined) { e.textContent = text; } return e; }

  function api(method, url, body) {
    var headers = {"Accept": "application/json"};
    if (key()) { headers["X-API-Key"] = key(); }
    var init = {method: method, headers: headers};
    if (body !== undefined) {
      headers["Content-Type"] = "application/json";
      headers["Prefer"] = "respond-async";
      init.body = JSON.stringify(body);
    }
    return fetch(url, init).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401) { $("key-row").hidden = false; }
        if (!r.ok) { throw new Error(data.detail || data.title || ("HTTP " + r.status)); }
        return data;
      });
    });
  }

  function showError(err) {
    var box = $("error");
    box.textContent = err ? String(err.message || err) : "";
    box.hidden = !err;
  }

  function openFile(href) {
    if (!key()) { window.open(href, "_blank", "noopener"); return; }
    fetch(href, {headers: {"X-API-Key": key()}}).then(function (r) { return r.blob(); })
      .then(function (b) { window.open(URL.createObjectURL(b), "_blank", "noopener"); });
  }

  function fileLink(label, href, id) {
    var a = el("a", label);
    a.href = href;
    if (id) { a.id = id; }
    a.addEventListener("click", function (e) { if (key()) { e.preventDefault(); openFile(href); } });
    a.target = "_blank";
    a.rel = "noopener";
    return a;
  }

  // ------------------------------------------------------------------ form
  function kindOf(schema) {
    if (schema["enum"]) { return "enum"; }
    if (schema.type === "boolean") { return "bool"; }
    if (schema.type === "integer" || schema.type === "number") { return "number"; }
    if (schema.type === "array") { return "list"; }
    if (schema.type === "object") { return "table"; }
    if (schema.type === "string") { return "text"; }
    return null;
  }

  function toText(kind, value) {
    if (value === undefined || value === null) { return ""; }
    if (kind === "list") { return value.join(", "); }
    if (kind === "table") {
      return Object.keys(value).map(function (k) {
        var v = value[k];
        return k + "=" + (Array.isArray(v) ? v.join(",") : v);
      }).join("; ");
    }
    return String(value);
  }

  function fromText(field) {
    var input = field.input, kind = field.kind;
    if (kind === "bool") { return input.checked; }
    var text = input.value.trim();
    if (text === "") { return undefined; }
    if (kind === "number") { return Number(text); }
    if (kind === "list") { return text.split(",").map(function (s) { return Number(s.trim()); }); }
    if (kind === "table") {
      var out = {};
      text.split(";").forEach(function (part) {
        var kv = part.split("=");
        if (kv.length < 2 || !kv[0].trim()) { return; }
        var values = kv.slice(1).join("=").split(",").map(function (s) { return s.trim(); })
          .filter(function (s) { return s; });
        var numeric = field.numbers;
        out[kv[0].trim()] = numeric ? Number(values[0]) : values;
      });
      return out;
    }
    return text;
  }

  function buildForm(schema) {
    var main = $("fields"), more = $("more-fields");
    SECTIONS.forEach(function (section) {
      var props = (schema.properties[section] || {}).properties || {};
      Object.keys(props).forEach(function (name) {
        var s = props[name], kind = kindOf(s), path = section + "." + name;
        if (!kind) { return; }
        var row = el("div"); row.className = "field";
        var label = el("label", path.replace(".", " › ").replace(/_/g, " ") + " ");
        var input;
        if (kind === "enum") {
          input = el("select");
          s["enum"].forEach(function (v) { var o = el("option", String(v)); o.value = v; input.appendChild(o); });
        } else {
          input = el("input");
          input.type = kind === "bool" ? "checkbox" : (kind === "number" ? "number" : "text");
          if (kind === "number") { input.step = s.type === "integer" ? "1" : "any"; }
        }
        input.name = path;
        input.id = "f-" + path.replace(".", "-");
        label.appendChild(input);
        row.appendChild(label);
        if (kind === "list") { row.appendChild(el("span", "comma-separated minutes")).className = "help"; }
        if (kind === "table") { row.appendChild(el("span", "column=value,value; ...")).className = "help"; }
        (MAIN.indexOf(path) >= 0 ? main : more).appendChild(row);
        var numbers = kind === "table" && s.additionalProperties && s.additionalProperties.type === "number";
        fields.push({path: path, kind: kind, input: input, numbers: numbers, initial: undefined});
      });
    });
  }

  function fillForm(name) {
    var settings = (datasets[name] || {}).settings || {};
    $("dataset-title").textContent = (datasets[name] || {}).title || "";
    fields.forEach(function (f) {
      var parts = f.path.split("."), value = (settings[parts[0]] || {})[parts[1]];
      if (f.kind === "bool") { f.input.checked = !!value; } else { f.input.value = toText(f.kind, value); }
      f.initial = JSON.stringify(fromText(f));
    });
  }

  function changes() {
    var out = {};
    fields.forEach(function (f) {
      var value = fromText(f);
      if (JSON.stringify(value) === f.initial || value === undefined) { return; }
      var parts = f.path.split(".");
      (out[parts[0]] = out[parts[0]] || {})[parts[1]] = value;
    });
    return out;
  }

  // ------------------------------------------------------------------ jobs
  function showJob(job) {
    $("current").hidden = false;
    $("status").textContent = job.status;
    $("stage").textContent = job.message || "";
    $("progress").value = job.progress || 0;
    $("percent").textContent = (job.progress || 0) + "%";
    if (job.exception) { showError(new Error(job.exception.detail)); }
  }

  function showOutputs(jobId) {
    var box = $("outputs");
    box.textContent = "";
    api("GET", "/jobs/" + jobId + "/results").then(function (results) {
      var map = results.map_html, report = results.report_html;
      if (map) { box.appendChild(fileLink("Open the map", map.href, "map-link")); }
      if (report) { box.appendChild(fileLink("Open the report", report.href, "report-link")); }
      var files = el("details"); files.appendChild(el("summary", "All files"));
      Object.keys(results).forEach(function (k) {
        if (results[k] && results[k].href) {
          var p = el("div"); p.appendChild(fileLink(results[k].title || k, results[k].href)); files.appendChild(p);
        }
      });
      box.appendChild(files);
    }).catch(showError);
  }

  function poll(jobId) {
    api("GET", "/jobs/" + jobId).then(function (job) {
      showJob(job);
      if (job.status === "successful") { showOutputs(jobId); refreshJobs(); current = null; return; }
      if (job.status === "failed" || job.status === "dismissed") { refreshJobs(); current = null; return; }
      setTimeout(function () { poll(jobId); }, 500);
    }).catch(showError);
  }

  function refreshJobs() {
    api("GET", "/jobs?limit=50").then(function (data) {
      var body = document.querySelector("#jobs tbody");
      body.textContent = "";
      data.jobs.forEach(function (job) {
        var tr = el("tr");
        tr.dataset.job = job.jobID;
        [job.created.replace("T", " ").slice(0, 19), job.title, job.dataset,
         job.status + (job.cached ? " (cached)" : ""), job.progress + "%"].forEach(function (t) {
          tr.appendChild(el("td", t));
        });
        var actions = el("td");
        if (job.status === "successful") {
          actions.appendChild(fileLink("map", "/jobs/" + job.jobID + "/results/map.html"));
          actions.appendChild(document.createTextNode(" "));
          actions.appendChild(fileLink("report", "/jobs/" + job.jobID + "/results/report.html"));
        }
        if (job.status === "accepted" || job.status === "running" || job.status === "successful") {
          var b = el("button", job.status === "successful" ? "Delete" : "Cancel");
          b.type = "button";
          b.addEventListener("click", function () { api("DELETE", "/jobs/" + job.jobID).then(refreshJobs).catch(showError); });
          actions.appendChild(b);
        }
        tr.appendChild(actions);
        body.appendChild(tr);
      });
    }).catch(showError);
  }

  function start(event) {
    event.preventDefault();
    showError(null);
    $("outputs").textContent = "";
    var body = {inputs: {dataset: $("dataset").value, scenario: changes()}};
    api("POST", "/processes/run/execution", body).then(function (job) {
      current = job.jobID;
      showJob(job);
      refreshJobs();
      poll(job.jobID);
    }).catch(showError);
  }

  // ------------------------------------------------------------------ uploads
  function upload(event) {
    event.preventDefault();
    showError(null);
    var form = new FormData();
    var facilities = $("up-facilities").files[0], population = $("up-population").files[0];
    if (!facilities) { showError(new Error("choose a facilities file first")); return; }
    form.append("facilities", facilities);
    if (population) { form.append("population", population); }
    form.append("base", $("up-base").value);
    form.append("title", $("up-title").value.trim());
    var headers = {"Accept": "application/json"};
    if (key()) { headers["X-API-Key"] = key(); }
    $("upload-status").textContent = "uploading…";
    fetch("/datasets", {method: "POST", headers: headers, body: form}).then(function (r) {
      return r.json().catch(function () { return {}; }).then(function (data) {
        if (r.status === 401) { $("key-row").hidden = false; }
        if (!r.ok) { throw new Error(data.detail || data.title || ("HTTP " + r.status)); }
        return data;
      });
    }).then(function (data) {
      var text = "uploaded " + data.facilities + " facilities as “" + data.title + "”";
      if (data.warnings && data.warnings.length) { text += " (" + data.warnings.join("; ") + ")"; }
      $("upload-status").textContent = text;
      selectAfterLoad = data.id;
      load();
    }).catch(function (err) { $("upload-status").textContent = ""; showError(err); });
  }

  function init() {
    $("api-key").value = key();
    $("api-key").addEventListener("change", function () {
      sessionStorage.setItem("accessmap-key", $("api-key").value.trim());
      load();
    });
    $("run-form").addEventListener("submit", start);
    $("upload-form").addEventListener("submit", upload);
    $("dataset").addEventListener("change", function () { fillForm($("dataset").value); });
    load();
    setInterval(function () { if (!current) { refreshJobs(); } }, 5000);
  }

  function load() {
    api("GET", "/processes/run").then(function (process) {
      datasets = process["x-datasets"] || {};
      var select = $("dataset"), bases = $("up-base"), base = bases.value;
      select.textContent = "";
      bases.textContent = "";
      process.inputs.dataset.schema["enum"].forEach(function (name) {
        var uploaded = name.indexOf(UPLOAD) === 0;
        var label = uploaded ? ((datasets[name] || {}).title || name) + " (uploaded)" : name;
        var o = el("option", label); o.value = name; select.appendChild(o);
        if (!uploaded) { var b = el("option", name); b.value = name; bases.appendChild(b); }
      });
      if (base) { bases.value = base; }
      if (selectAfterLoad) { select.value = selectAfterLoad; selectAfterLoad = null; }
      if (!fields.length) { buildForm(process.inputs.scenario.schema); }
      fillForm(select.value);
      refreshJobs();
    }).catch(showError);
  }

  document.addEventListener("DOMContentLoaded", init);
}());
