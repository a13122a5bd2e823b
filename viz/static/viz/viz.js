// Polls /api/state about once a second and redraws the board; the server's first render
// (same markup) stays if this script never runs.
(function () {
  "use strict";
  const ACTIVE = new Set(["new", "pending", "assigned", "accepted", "preparing", "ready", "starting", "running"]);
  const body = document.body;
  const pollMs = Number(body.dataset.pollMs) || 1000;
  const stateUrl = body.dataset.stateUrl || "/api/state";
  let lastOk = null;

  function el(tag, attrs, children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key === "hidden") node.hidden = value;
      else node.setAttribute(key, value);
    }
    for (const child of children || []) if (child) node.append(child);
    return node;
  }

  function taskCard(task) {
    const ended = !ACTIVE.has(task.state);
    const leaving = !ended && task.desired_state !== "running";
    const showHealth = !["unknown", "none", task.state].includes(task.health);
    const image = task.image + (task.container_id ? " · " + task.container_id.slice(0, 12) : "");
    return el("article", {
      class: `task v${task.version_colour} state-${task.state} health-${task.health}${ended ? " ended" : leaving ? " leaving" : ""}`,
      "data-task-id": task.id,
      "data-service": task.service,
    }, [
      el("p", {class: "task-head"}, [
        el("b", {class: "svc", title: task.service, text: task.service}),
        task.slot === null ? null : el("span", {class: "slot", text: "." + task.slot}),
        el("span", {class: "version", text: task.version}),
      ]),
      el("p", {class: "task-state"}, [
        el("span", {class: "state", text: task.state}),
        leaving ? el("span", {class: "desired", text: " → " + task.desired_state}) : null,
        showHealth ? el("span", {class: "health", text: task.health}) : null,
      ]),
      el("p", {class: "muted image", title: task.image, text: image}),
      ended && task.message ? el("p", {class: "message", text: task.message}) : null,
    ]);
  }

  function nodeColumn(node) {
    const badges = el("p", {}, [
      el("span", {class: "badge role", text: node.role + (node.leader ? " · leader" : "")}),
      el("span", {class: `badge state-${node.state}`, text: node.state}),
      el("span", {class: "badge avail", text: node.availability}),
    ]);
    const detail = "engine " + node.engine_version + (node.address ? " · " + node.address : "");
    const tasks = node.tasks.length ? node.tasks.map(taskCard) : [el("p", {class: "empty", text: "no tasks"})];
    return el("section", {class: `node node-${node.state} avail-${node.availability}`, "data-node-id": node.id}, [
      el("header", {class: "node-head"}, [el("h2", {text: node.hostname}), badges, el("p", {class: "muted", text: detail})]),
      el("div", {class: "tasks"}, tasks),
    ]);
  }

  function serviceChip(service) {
    const desired = service.replicas === null ? "global" : String(service.replicas);
    const short = service.replicas !== null && service.running < service.replicas;
    const updating = service.update_state && service.update_state !== "completed";
    return el("span", {class: `chip v${service.version_colour}${short ? " chip-short" : ""}`, title: service.image}, [
      el("b", {text: service.name}), ` ${service.running}/${desired} `, el("i", {text: service.version}),
      updating ? el("span", {class: "update", text: " " + service.update_state}) : null,
    ]);
  }

  function draw(state) {
    const columns = state.nodes.map(nodeColumn);
    if (state.unassigned.length) {
      columns.push(el("section", {class: "node node-unassigned"}, [
        el("header", {class: "node-head"}, [el("h2", {text: "not placed"}), el("p", {class: "muted", text: "tasks waiting for a node"})]),
        el("div", {class: "tasks"}, state.unassigned.map(taskCard)),
      ]));
    }
    document.getElementById("board").replaceChildren(...columns);
    document.getElementById("services").replaceChildren(...state.services.map(serviceChip));
    const n = state.nodes.length, s = state.services.length;
    document.getElementById("summary").textContent = `${n} node${n === 1 ? "" : "s"} · ${s} service${s === 1 ? "" : "s"}`;
  }

  function showHealthOfFeed(message) {
    const banner = document.getElementById("banner");
    banner.hidden = !message;
    banner.textContent = message || "";
    document.getElementById("live-dot").className = "dot " + (message ? "dot-bad" : "dot-ok");
    const updated = document.getElementById("updated");
    if (lastOk) {
      const age = Math.max(0, Math.round((Date.now() - lastOk) / 1000));
      updated.textContent = message ? `last picture ${age}s old` : "live · " + new Date(lastOk).toLocaleTimeString();
    }
  }

  async function poll() {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), Math.max(2500, pollMs * 2));
    try {
      const response = await fetch(stateUrl, {cache: "no-store", signal: controller.signal, headers: {Accept: "application/json"}});
      const payload = await response.json().catch(() => ({}));
      if (!response.ok) throw new Error((payload.error && payload.error.message) || `HTTP ${response.status}`);
      draw(payload);
      lastOk = Date.now();
      showHealthOfFeed(null);
    } catch (error) {
      showHealthOfFeed(error.name === "AbortError" ? "viz did not answer in time" : String(error.message || error));
    } finally {
      clearTimeout(timer);
      setTimeout(poll, pollMs);
    }
  }

  poll();
})();
