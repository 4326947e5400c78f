//! The status page: one small HTML document, no framework, inline CSS and script
//! (allowed by their hashes in the Content-Security-Policy, nothing else), readable on
//! a phone. Every value from the registry or AWS is HTML-escaped.
//!
//! Its shape, which the browser test reads: `#token` (the start token, kept only in
//! the page), `#msg` (what the last start did), one `li[data-name]` per container
//! with `.state`, `.address` and `.players`, and a `button[data-start]` that posts
//! `/start/{name}` with `Authorization: Bearer <token>` (asking for the token when
//! the field is empty). Every 30 seconds, while visible, it refreshes the states and
//! players from `/status`.

use std::sync::LazyLock;

use base64::Engine;
use sha2::{Digest, Sha256};

use crate::decide::ContainerView;

const STYLE: &str = "\
body{font:16px/1.4 system-ui,sans-serif;margin:0;background:#f4f5f7;color:#1d2330}\
main{max-width:40rem;margin:0 auto;padding:1rem}\
h1{font-size:1.4rem;margin:0}.domain{color:#5b6475;margin:.2rem 0 1rem}\
label{display:block;margin-bottom:.5rem}input{font:inherit;padding:.4rem;width:100%;box-sizing:border-box}\
#msg{min-height:1.4em;color:#5b6475}\
ul{list-style:none;padding:0;margin:0}\
li{background:#fff;border-radius:.5rem;padding:.8rem;margin:.6rem 0;display:flex;flex-wrap:wrap;align-items:center;gap:.3rem .8rem}\
li .who{flex:1 1 12rem}.address{color:#5b6475;font-size:.9rem;word-break:break-all}\
.state{display:inline-block;padding:0 .5rem;border-radius:1rem;font-size:.85rem;background:#e3e6eb}\
.state.up{background:#c9f0d3}.state.starting{background:#fff0c2}.state.stopping{background:#ffd9c9}\
button{font:inherit;padding:.5rem 1rem;border:0;border-radius:.4rem;background:#2456d6;color:#fff}\
button:disabled{opacity:.5}";

const SCRIPT: &str = r#"
const token = document.getElementById('token');
const msg = document.getElementById('msg');
function row(name) { return document.querySelector('li[data-name="' + name + '"]'); }
function players(n) { return n == null ? '' : n + (n === 1 ? ' player' : ' players'); }
function show(name, state, count) {
  const li = row(name);
  if (!li) return;
  const s = li.querySelector('.state');
  s.textContent = state;
  s.className = 'state ' + state;
  if (count !== undefined) li.querySelector('.players').textContent = players(count);
}
async function start(name, button) {
  let t = token.value.trim();
  if (!t) { t = (window.prompt('Start token') || '').trim(); token.value = t; }
  if (!t) return;
  button.disabled = true;
  msg.textContent = 'Starting ' + name + '…';
  try {
    const r = await fetch('/start/' + encodeURIComponent(name), {
      method: 'POST', headers: { 'Authorization': 'Bearer ' + t }, cache: 'no-store' });
    if (r.status === 202) { msg.textContent = name + ' is starting.'; show(name, 'starting'); }
    else if (r.status === 401) { msg.textContent = 'That is not the start token.'; token.value = ''; }
    else { msg.textContent = name + ' could not be started (' + r.status + ').'; }
  } catch (e) { msg.textContent = 'The panel did not answer.'; }
  button.disabled = false;
}
async function refresh() {
  if (document.hidden) return;
  try {
    const r = await fetch('/status', { cache: 'no-store' });
    if (!r.ok) return;
    const doc = await r.json();
    for (const c of doc.containers) show(c.name, c.state, c.players);
  } catch (e) {}
}
document.querySelectorAll('button[data-start]').forEach(function (b) {
  b.addEventListener('click', function () { start(b.dataset.start, b); });
});
setInterval(refresh, 30000);
"#;

/// `'sha256-...'` of a script or style element's text.
fn hash(text: &str) -> String {
    format!(
        "'sha256-{}'",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(text.as_bytes()))
    )
}

/// The page's Content-Security-Policy: its own style and script only, requests to
/// its own origin only, no frames, no forms, no base.
pub static CONTENT_SECURITY_POLICY: LazyLock<String> = LazyLock::new(|| {
    format!(
        "default-src 'none'; style-src {}; script-src {}; connect-src 'self'; \
         base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        hash(STYLE),
        hash(SCRIPT)
    )
});

/// Escapes text for HTML content and quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn players(count: Option<u64>) -> String {
    match count {
        None => String::new(),
        Some(1) => "1 player".to_string(),
        Some(n) => format!("{n} players"),
    }
}

/// The page for `domain` and its containers.
pub fn render(domain: &str, containers: &[ContainerView]) -> String {
    let domain = escape(domain);
    let mut items = String::new();
    for c in containers {
        let name = escape(&c.name);
        let state = c.state.as_str();
        items.push_str(&format!(
            "<li data-name=\"{name}\"><div class=\"who\"><strong class=\"name\">{name}</strong> \
             <span class=\"state {state}\">{state}</span>\
             <div class=\"address\">{address}</div><div class=\"players\">{players}</div></div>\
             <button type=\"button\" data-start=\"{name}\">Start</button></li>",
            address = escape(&c.address),
            players = escape(&players(c.players)),
        ));
    }
    if containers.is_empty() {
        items.push_str("<li>No container is registered under this domain.</li>");
    }
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>Servers of {domain}</title><style>{STYLE}</style></head><body><main>\
         <h1>Servers</h1><p class=\"domain\">{domain}</p>\
         <label>Start token <input id=\"token\" type=\"password\" autocomplete=\"off\"></label>\
         <p id=\"msg\" role=\"status\"></p><ul>{items}</ul></main>\
         <script>{SCRIPT}</script></body></html>"
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::State;

    #[test]
    fn every_value_is_escaped() {
        assert_eq!(
            escape("<a href='x'>&\"</a>"),
            "&lt;a href=&#39;x&#39;&gt;&amp;&quot;&lt;/a&gt;"
        );
        let page = render(
            "ex<ample>.com",
            &[ContainerView {
                name: "mc".into(),
                state: State::Up,
                address: "mc.\"x\".com".into(),
                players: Some(3),
            }],
        );
        assert!(page.contains("<title>Servers of ex&lt;ample&gt;.com</title>"));
        assert!(page.contains("mc.&quot;x&quot;.com"));
        assert!(page.contains("<span class=\"state up\">up</span>"));
        assert!(page.contains("3 players"));
        assert!(page.contains("data-start=\"mc\""));
    }

    #[test]
    fn the_policy_allows_exactly_the_inline_style_and_script() {
        let csp = &*CONTENT_SECURITY_POLICY;
        assert!(csp.contains(&hash(STYLE)) && csp.contains(&hash(SCRIPT)));
        assert!(!csp.contains("unsafe"));
        // The hash covers the element's text exactly as served.
        let page = render("example.com", &[]);
        assert!(page.contains(&format!("<script>{SCRIPT}</script>")));
        assert!(page.contains(&format!("<style>{STYLE}</style>")));
    }
}
