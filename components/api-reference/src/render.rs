//! The reference page: one HTML document rendered from the OpenAPI document, with no script
//! and no outside resource (its only style is inline), so it works offline, behind a strict
//! Content-Security-Policy, and says exactly what `docs/openapi.json` says.
//!
//! Sections: the document's description and where to fetch it, authentication (every security
//! scheme, the OAuth 2.0 flow with its token URL and scopes), one section per tag with its
//! operations (parameters, request bodies, responses, the scopes each needs), then every
//! schema with its properties. Text is escaped; Markdown code spans become `<code>`.

use serde_json::{Map, Value};
use std::fmt::Write;

/// Where the component serves the document the page is rendered from.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:0 auto;padding:1rem 2rem;color:#1d2430}\
h2{border-bottom:2px solid #d8dee9;padding-bottom:.2rem;margin-top:2.5rem}\
article{border:1px solid #d8dee9;border-radius:6px;padding:.2rem 1rem;margin:1rem 0}\
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{text-align:left;vertical-align:top;padding:.25rem .5rem;border-bottom:1px solid #e5e9f0}\
code{background:#eceff4;padding:0 .2rem;border-radius:3px}.m{font:bold 13px monospace;padding:.1rem .4rem;border-radius:3px;color:#fff;background:#5e81ac}\
.get{background:#4c8a5c}.put{background:#b0781f}.post{background:#5e81ac}.delete{background:#a33c3c}nav ul{columns:2}";

/// The page for `document`, an OpenAPI 3.1 document.
pub fn page(document: &Value) -> String {
    let info = &document["info"];
    let title = info["title"].as_str().unwrap_or("API");
    let mut html = String::with_capacity(256 * 1024);
    let _ = write!(
        html,
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
         <title>{} {}</title><style>{STYLE}</style></head><body><header><h1>{}</h1>\
         <p>Version {} · OpenAPI {} · the document: <a href=\"{DOCUMENT_PATH}\">{DOCUMENT_PATH}</a> \
         (for Swagger UI, Postman or a client generator)</p>{}</header>",
        escape(title),
        escape(info["version"].as_str().unwrap_or_default()),
        escape(title),
        escape(info["version"].as_str().unwrap_or_default()),
        escape(document["openapi"].as_str().unwrap_or_default()),
        paragraph(&info["description"]),
    );
    let operations = operations(document);
    let tags = tags(document, &operations);
    contents(&mut html, &tags, &operations);
    authentication(&mut html, at(document, "/components/securitySchemes"));
    for tag in &tags {
        let name = tag["name"].as_str().unwrap_or_default();
        let _ = write!(
            html,
            "<section id=\"tag-{}\"><h2>{}</h2>{}",
            anchor(name),
            escape(name),
            paragraph(&tag["description"])
        );
        for operation in operations.iter().filter(|op| op.tag == name) {
            operation.render(&mut html);
        }
        html.push_str("</section>");
    }
    schemas(&mut html, at(document, "/components/schemas"));
    html.push_str("</body></html>");
    html
}

/// One operation: where it is and what the document says of it.
struct Operation<'a> {
    method: &'a str,
    path: &'a str,
    tag: &'a str,
    item: &'a Value,
    operation: &'a Value,
}

/// Every operation in the order of the document's paths.
fn operations(document: &Value) -> Vec<Operation<'_>> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().into_iter().flatten() {
        for (method, operation) in item.as_object().into_iter().flatten() {
            if method == "parameters" || method == "summary" || method == "description" {
                continue;
            }
            found.push(Operation {
                method,
                path,
                tag: at(operation, "/tags/0").as_str().unwrap_or_default(),
                item,
                operation,
            });
        }
    }
    found
}

/// The document's tags, then any tag an operation names that the list lacks.
fn tags(document: &Value, operations: &[Operation<'_>]) -> Vec<Value> {
    let mut tags: Vec<Value> = document["tags"].as_array().cloned().unwrap_or_default();
    for operation in operations {
        if !tags.iter().any(|tag| tag["name"] == operation.tag) {
            tags.push(serde_json::json!({ "name": operation.tag }));
        }
    }
    tags
}

fn contents(html: &mut String, tags: &[Value], operations: &[Operation<'_>]) {
    html.push_str(
        "<nav><h2>Contents</h2><ul><li><a href=\"#authentication\">Authentication</a></li>",
    );
    for tag in tags {
        let name = tag["name"].as_str().unwrap_or_default();
        let _ = write!(
            html,
            "<li><a href=\"#tag-{}\">{}</a><ul>",
            anchor(name),
            escape(name)
        );
        for operation in operations.iter().filter(|op| op.tag == name) {
            let _ = write!(
                html,
                "<li><a href=\"#{}\">{} {}</a></li>",
                operation.anchor(),
                operation.method.to_uppercase(),
                escape(operation.path)
            );
        }
        html.push_str("</ul></li>");
    }
    html.push_str("<li><a href=\"#schemas\">Schemas</a></li></ul></nav>");
}

fn authentication(html: &mut String, schemes: &Value) {
    html.push_str("<section id=\"authentication\"><h2>Authentication</h2>");
    for (name, scheme) in schemes.as_object().into_iter().flatten() {
        let kind = match (scheme["type"].as_str(), scheme["scheme"].as_str()) {
            (Some("http"), Some(http)) => format!("HTTP {http}"),
            (Some(other), _) => other.to_owned(),
            (None, _) => "unknown".to_owned(),
        };
        let _ = write!(
            html,
            "<article id=\"security-{}\"><h3>{} <small>({})</small></h3>{}",
            anchor(name),
            escape(name),
            escape(&kind),
            paragraph(&scheme["description"])
        );
        for (flow, settings) in scheme["flows"].as_object().into_iter().flatten() {
            let _ = write!(
                html,
                "<p>Flow <code>{}</code>: tokens from <code>POST {}</code>.</p>\
                 <table><tr><th>Scope</th><th>Allows</th></tr>",
                escape(flow),
                escape(settings["tokenUrl"].as_str().unwrap_or_default())
            );
            for (scope, allows) in settings["scopes"].as_object().into_iter().flatten() {
                let _ = write!(
                    html,
                    "<tr><td><code>{}</code></td><td>{}</td></tr>",
                    escape(scope),
                    text(allows.as_str().unwrap_or_default())
                );
            }
            html.push_str("</table>");
        }
        html.push_str("</article>");
    }
    html.push_str("</section>");
}

impl Operation<'_> {
    fn anchor(&self) -> String {
        match self.operation["operationId"].as_str() {
            Some(id) => format!("op-{}", anchor(id)),
            None => format!("op-{}-{}", self.method, anchor(self.path)),
        }
    }

    fn render(&self, html: &mut String) {
        let _ = write!(
            html,
            "<article id=\"{}\"><h3><span class=\"m {}\">{}</span> <code>{}</code></h3><p><b>{}</b></p>{}",
            self.anchor(),
            escape(self.method),
            self.method.to_uppercase(),
            escape(self.path),
            text(self.operation["summary"].as_str().unwrap_or_default()),
            paragraph(&self.operation["description"]),
        );
        self.security(html);
        self.parameters(html);
        self.request_body(html);
        self.responses(html);
        html.push_str("</article>");
    }

    fn security(&self, html: &mut String) {
        let Some(requirements) = self.operation["security"].as_array() else {
            html.push_str("<p>Public: no token needed.</p>");
            return;
        };
        let ways: Vec<String> = requirements
            .iter()
            .filter_map(Value::as_object)
            .map(|requirement| {
                if requirement.is_empty() {
                    return "no credentials".to_owned();
                }
                requirement
                    .iter()
                    .map(|(scheme, scopes)| {
                        let scopes: Vec<String> = scopes
                            .as_array()
                            .into_iter()
                            .flatten()
                            .filter_map(Value::as_str)
                            .map(|scope| format!("<code>{}</code>", escape(scope)))
                            .collect();
                        let scheme = format!(
                            "<a href=\"#security-{}\">{}</a>",
                            anchor(scheme),
                            escape(scheme)
                        );
                        if scopes.is_empty() {
                            scheme
                        } else {
                            format!("{scheme} with {}", scopes.join(" and "))
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" plus ")
            })
            .collect();
        let _ = write!(html, "<p>Credentials: {}.</p>", ways.join(", or "));
    }

    fn parameters(&self, html: &mut String) {
        let parameters: Vec<&Value> = self.item["parameters"]
            .as_array()
            .into_iter()
            .chain(self.operation["parameters"].as_array())
            .flatten()
            .collect();
        if parameters.is_empty() {
            return;
        }
        html.push_str(
            "<table><tr><th>Parameter</th><th>In</th><th>Type</th><th>Description</th></tr>",
        );
        for parameter in parameters {
            let required = if parameter["required"].as_bool() == Some(true) {
                " <small>required</small>"
            } else {
                ""
            };
            let _ = write!(
                html,
                "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(parameter["name"].as_str().unwrap_or_default()),
                escape(parameter["in"].as_str().unwrap_or_default()),
                type_of(&parameter["schema"]),
                text(parameter["description"].as_str().unwrap_or_default()),
            );
        }
        html.push_str("</table>");
    }

    fn request_body(&self, html: &mut String) {
        let body = &self.operation["requestBody"];
        let Some(content) = body["content"].as_object() else {
            return;
        };
        let _ = write!(
            html,
            "<p>Request body{}: {}</p>",
            if body["required"].as_bool() == Some(true) {
                " (required)"
            } else {
                ""
            },
            media_types(content)
        );
    }

    fn responses(&self, html: &mut String) {
        html.push_str(
            "<table><tr><th>Status</th><th>Meaning</th><th>Body</th><th>Headers</th></tr>",
        );
        for (status, response) in self.operation["responses"]
            .as_object()
            .into_iter()
            .flatten()
        {
            let headers: Vec<String> = response["headers"]
                .as_object()
                .into_iter()
                .flatten()
                .map(|(name, _)| format!("<code>{}</code>", escape(name)))
                .collect();
            let _ = write!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(status),
                text(response["description"].as_str().unwrap_or_default()),
                response["content"]
                    .as_object()
                    .map(media_types)
                    .unwrap_or_default(),
                headers.join(", ")
            );
        }
        html.push_str("</table>");
    }
}

/// Each media type with what it carries; a sequential one (`x-oai-itemSchema`) as a stream of
/// its items.
fn media_types(content: &Map<String, Value>) -> String {
    content
        .iter()
        .map(|(media_type, media)| {
            let carries = match media.get("x-oai-itemSchema") {
                Some(item) => format!("a stream of {}, one per line", type_of(item)),
                None => type_of(&media["schema"]),
            };
            format!("<code>{}</code> {carries}", escape(media_type))
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn schemas(html: &mut String, schemas: &Value) {
    html.push_str("<section id=\"schemas\"><h2>Schemas</h2>");
    for (name, schema) in schemas.as_object().into_iter().flatten() {
        let _ = write!(
            html,
            "<article id=\"schema-{}\"><h3>{}</h3><p>{}</p>{}",
            anchor(name),
            escape(name),
            type_of(schema),
            paragraph(&schema["description"])
        );
        let required: Vec<&str> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if let Some(properties) = schema["properties"].as_object() {
            html.push_str("<table><tr><th>Member</th><th>Type</th><th>Description</th></tr>");
            for (member, property) in properties {
                let _ = write!(
                    html,
                    "<tr><td><code>{}</code>{}</td><td>{}</td><td>{}</td></tr>",
                    escape(member),
                    if required.contains(&member.as_str()) {
                        " <small>required</small>"
                    } else {
                        ""
                    },
                    type_of(property),
                    text(property["description"].as_str().unwrap_or_default())
                );
            }
            html.push_str("</table>");
        }
        html.push_str("</article>");
    }
    html.push_str("</section>");
}

/// A schema in a few words: a link for a reference, `array of ...`, the values of an enum,
/// the alternatives of a `oneOf`.
fn type_of(schema: &Value) -> String {
    if let Some(reference) = schema["$ref"].as_str() {
        let name = reference.rsplit('/').next().unwrap_or(reference);
        return format!("<a href=\"#schema-{}\">{}</a>", anchor(name), escape(name));
    }
    if let Some(values) = schema["enum"].as_array() {
        let values: Vec<String> = values
            .iter()
            .map(|value| match value.as_str() {
                Some(text) => format!("<code>{}</code>", escape(text)),
                None => format!("<code>{}</code>", escape(&value.to_string())),
            })
            .collect();
        return format!("one of {}", values.join(", "));
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(options) = schema[combinator].as_array() {
            return options.iter().map(type_of).collect::<Vec<_>>().join(" or ");
        }
    }
    let kind = match &schema["type"] {
        Value::String(kind) => kind.clone(),
        Value::Array(kinds) => kinds
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => return "any JSON value".to_owned(),
    };
    if kind == "array" {
        return format!("array of {}", type_of(&schema["items"]));
    }
    match schema["format"].as_str() {
        Some(format) => format!("{} ({})", escape(&kind), escape(format)),
        None => escape(&kind),
    }
}

/// The value at a JSON pointer, `null` where there is none (indexing would be the same, but
/// reads as if it could panic).
fn at<'a>(value: &'a Value, pointer: &str) -> &'a Value {
    value.pointer(pointer).unwrap_or(&Value::Null)
}

/// A description as a paragraph, if there is one.
fn paragraph(description: &Value) -> String {
    description
        .as_str()
        .map(|description| format!("<p>{}</p>", text(description)))
        .unwrap_or_default()
}

/// Text for HTML, with Markdown code spans (`` `x` ``) as `<code>`.
fn text(raw: &str) -> String {
    escape(raw)
        .split('`')
        .enumerate()
        .map(|(index, part)| {
            if index % 2 == 1 {
                format!("<code>{part}</code>")
            } else {
                part.to_owned()
            }
        })
        .collect()
}

/// `raw` with the five characters HTML gives meaning escaped.
pub fn escape(raw: &str) -> String {
    let mut escaped = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => escaped.push_str("&amp;"),
            '<' => escaped.push_str("&lt;"),
            '>' => escaped.push_str("&gt;"),
            '"' => escaped.push_str("&quot;"),
            '\'' => escaped.push_str("&#39;"),
            other => escaped.push(other),
        }
    }
    escaped
}

/// A fragment id: letters, digits, `-` and `_`, anything else as `-`.
fn anchor(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn document() -> Value {
        json!({
            "openapi": "3.1.0",
            "info": {"title": "T", "version": "1", "description": "Uses `x-request-id`."},
            "tags": [{"name": "things", "description": "Things <b>"}],
            "paths": {"/things/{id}": {"get": {
                "tags": ["things"], "operationId": "getThing", "summary": "Reads a thing",
                "parameters": [{"name": "id", "in": "path", "required": true, "schema": {"type": "string"}}],
                "security": [{"oauth2": ["things:read"]}],
                "responses": {"200": {"description": "The thing", "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Thing"}},
                    "application/x-ndjson": {"schema": {"type": "array", "items": {"$ref": "#/components/schemas/Thing"}},
                                             "x-oai-itemSchema": {"$ref": "#/components/schemas/Thing"}}
                }}}
            }}},
            "components": {
                "schemas": {"Thing": {"type": "object", "required": ["name"],
                    "properties": {"name": {"type": "string"}, "kind": {"enum": ["a", "b"]}}}},
                "securitySchemes": {"oauth2": {"type": "oauth2", "flows": {"clientCredentials": {
                    "tokenUrl": "/auth/token", "scopes": {"things:read": "Read things"}}}}}
            }
        })
    }

    #[test]
    fn every_operation_is_listed_and_described_under_its_tag() {
        let html = page(&document());
        assert!(html.contains("<section id=\"tag-things\">"), "{html}");
        assert!(html.contains("href=\"#op-getThing\""), "contents link");
        assert!(html.contains("<code>/things/{id}</code>"), "the path");
        assert!(
            html.contains("<code>id</code> <small>required</small>"),
            "the parameter"
        );
    }

    #[test]
    fn the_oauth2_flow_shows_its_token_url_and_scopes() {
        let html = page(&document());
        assert!(
            html.contains("tokens from <code>POST /auth/token</code>"),
            "{html}"
        );
        assert!(
            html.contains("<code>things:read</code></td><td>Read things"),
            "{html}"
        );
        assert!(
            html.contains("oauth2</a> with <code>things:read</code>"),
            "the operation's scope"
        );
    }

    #[test]
    fn an_ndjson_body_reads_as_a_stream_of_its_items() {
        let html = page(&document());
        assert!(
            html.contains("a stream of <a href=\"#schema-Thing\">Thing</a>, one per line"),
            "{html}"
        );
    }

    #[test]
    fn schemas_list_their_members_and_enums() {
        let html = page(&document());
        assert!(
            html.contains("<code>name</code> <small>required</small>"),
            "{html}"
        );
        assert!(
            html.contains("one of <code>a</code>, <code>b</code>"),
            "{html}"
        );
    }

    #[test]
    fn text_is_escaped_and_code_spans_become_code() {
        let html = page(&document());
        assert!(
            html.contains("Things &lt;b&gt;"),
            "a tag's description is escaped"
        );
        assert!(html.contains("Uses <code>x-request-id</code>."), "{html}");
    }

    #[test]
    fn the_page_loads_nothing_from_elsewhere() {
        let html = page(&document());
        for outside in ["<script", "<link", "src=", "http://", "https://"] {
            assert!(!html.contains(outside), "the page has {outside}");
        }
    }
}
