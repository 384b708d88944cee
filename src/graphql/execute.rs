//! Runs GraphQL requests: the query limits, a bounded cache of parsed documents and the error
//! codes, around `Schema::execute`.
//!
//! Why not schema extensions: async-graphql takes its fast path only when a schema has no
//! extension at all. With even one registered, every field and every list item is resolved
//! through the extension chain (a registry lookup, a `ResolveInfo` with two formatted type
//! names per list item, and one boxed future per extension per field), which was about a third
//! of the server's CPU for a 50-row page (BENCHMARKS.md, issue 8). Everything our extensions
//! did happens before parsing, at parsing or on the finished response, so it is done here
//! instead, once per request.

use std::any::TypeId;
use std::sync::{Arc, OnceLock};

use async_graphql::parser::parse_query;
use async_graphql::parser::types::ExecutableDocument;
use async_graphql::registry::Registry;
use async_graphql::{BatchRequest, BatchResponse, Request, Response, ServerError, Variables};

use super::bounded::BoundedMap;
use super::compiled::{Plan, PlanAnswer, compile};
use super::complete::{complete, operation};
use super::errors::{code_parse_error, code_response};
use super::limits::{QueryLimits, check_document, check_text};
use super::persisted::PersistedQueries;
use super::{ApiContext, AppSchema};
use crate::auth::{Principal, Scope};

/// Documents the cache keeps by default (`GRAPHQL_DOCUMENT_CACHE_SIZE`).
pub const DEFAULT_DOCUMENT_CACHE_SIZE: usize = 256;

/// Longest query text whose parsed document is cached: real pages are well under 2 KiB, and
/// the bound keeps the cache's memory small (at most `capacity` × this, plus the documents).
pub const MAX_CACHED_QUERY_BYTES: usize = 4096;

/// How the executor is set up (from [`crate::config::Settings`]).
#[derive(Debug, Clone, Copy)]
pub struct ExecutorOptions {
    pub limits: QueryLimits,
    /// Whether `__schema` and `__type` are answered.
    pub introspection: bool,
    /// Parsed documents kept (0 = no cache, and so no compiled plans either).
    pub document_cache_size: usize,
    /// Persisted queries kept (0 = Automatic Persisted Queries off).
    pub apq_cache_size: usize,
    /// Whether compiled page plans answer the requests they cover (`GRAPHQL_COMPILED_PAGES`).
    pub compiled_pages: bool,
}

/// The schema with what runs around it; cheap to clone (the handlers' `AppState` holds one).
#[derive(Clone)]
pub struct Executor {
    schema: AppSchema,
    api: Arc<ApiContext>,
    options: ExecutorOptions,
    documents: Arc<DocumentCache>,
    persisted: Arc<PersistedQueries>,
    /// The schema's type system, for the checks and the completion around execution.
    registry: Arc<Registry>,
}

/// An answer to a GraphQL request over HTTP: written by a compiled plan, or async-graphql's.
pub enum Answer {
    /// The JSON body, already written.
    Json(String),
    /// A response to serialize.
    Response(BatchResponse),
}

impl Answer {
    /// True when this answers one request with a *request error*: the request failed before
    /// execution began (unparseable or invalid document, variables that do not coerce, no
    /// operation to run, a limit). Such a body has no `data` key (GraphQL spec, "Response"),
    /// and GraphQL over HTTP answers it with 4xx under `application/graphql-response+json`.
    pub fn is_request_error(&self) -> bool {
        match self {
            Answer::Json(_) | Answer::Response(BatchResponse::Batch(_)) => false,
            Answer::Response(BatchResponse::Single(response)) => is_request_error(response),
        }
    }

    /// The JSON body: a response object, or an array of them for a batch.
    pub fn into_body(self) -> String {
        match self {
            Answer::Json(body) => body,
            Answer::Response(BatchResponse::Single(response)) => response_body(&response),
            Answer::Response(BatchResponse::Batch(responses)) => {
                let mut body = String::from("[");
                for (i, response) in responses.iter().enumerate() {
                    if i > 0 {
                        body.push(',');
                    }
                    body.push_str(&response_body(response));
                }
                body.push(']');
                body
            }
        }
    }
}

/// A response whose errors were all raised before execution: no data, and no error tied to a
/// field (execution errors always carry the path of their field).
pub fn is_request_error(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|err| err.path.is_empty())
}

/// One response as JSON; a request error without the `data` key.
pub fn response_body(response: &Response) -> String {
    let body = if is_request_error(response) {
        serde_json::to_string(&RequestErrorBody {
            errors: &response.errors,
            extensions: &response.extensions,
        })
    } else {
        serde_json::to_string(response)
    };
    // Serializing values we built ourselves cannot fail (string keys, finite numbers).
    body.unwrap_or_else(|_| {
        r#"{"errors":[{"message":"internal server error; it has been logged","extensions":{"code":"INTERNAL"}}]}"#
            .to_owned()
    })
}

/// The body of a request error: `errors` (and `extensions`), never `data`.
#[derive(serde::Serialize)]
struct RequestErrorBody<'a> {
    errors: &'a [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'a std::collections::BTreeMap<String, async_graphql::Value>,
}

impl Executor {
    /// An executor of `schema`, whose compiled plans share the resolvers' context `api`.
    pub fn new(schema: AppSchema, api: Arc<ApiContext>, options: ExecutorOptions) -> Self {
        Self {
            schema,
            api,
            options,
            documents: Arc::new(DocumentCache::new(options.document_cache_size)),
            persisted: Arc::new(PersistedQueries::new(options.apq_cache_size)),
            registry: Arc::new(super::schema_registry()),
        }
    }

    /// The schema itself (SDL, subscriptions).
    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// The parsed-document cache (its size is reported and tested).
    pub fn documents(&self) -> &DocumentCache {
        &self.documents
    }

    /// Answers an HTTP request: a single request its document's compiled plan covers is
    /// answered by the plan; everything else (and any plan that declines) by
    /// [`Executor::execute_batch`].
    pub async fn answer(&self, mut batch: BatchRequest) -> Answer {
        if let BatchRequest::Single(request) = &mut batch {
            // A persisted query's text first, so the plan of a hash alone is found too.
            if let Err(err) = self.resolve_persisted(request) {
                return Answer::Response(BatchResponse::Single(Response::from_errors(vec![err])));
            }
            if let Some(answer) = self.run_compiled(request).await {
                self.api.observer.metrics().requests().compiled();
                return answer;
            }
        }
        Answer::Response(self.execute_batch(batch).await)
    }

    /// Applies Automatic Persisted Queries to `request`, counting what happened.
    fn resolve_persisted(&self, request: &mut Request) -> Result<(), ServerError> {
        let requests = self.api.observer.metrics().requests();
        self.persisted
            .resolve_counted(request, &self.options.limits, |what| requests.persisted(what))
    }

    /// The persisted queries (Automatic Persisted Queries; their count is tested).
    pub fn persisted(&self) -> &PersistedQueries {
        &self.persisted
    }

    /// The compiled plan's answer to `request`, when its document is cached with a plan (which
    /// it has only once the general executor found it valid) and the plan takes the request.
    /// A plan declines before any database work (the general executor then answers, with the
    /// same result); once it has started, it answers itself, errors included. A cached
    /// document has passed the text and document limits (they are fixed for the executor's
    /// life), so they are not checked again.
    async fn run_compiled(&self, request: &Request) -> Option<Answer> {
        if !self.options.compiled_pages {
            return None;
        }
        let cached = self.documents.entry(&request.query)?;
        let plan = cached.plan.get()?.as_ref()?;
        let principal = request
            .data
            .get(&TypeId::of::<Principal>())
            .and_then(|data| data.downcast_ref::<Principal>())?;
        principal.require(Scope::Read).ok()?;
        let operation_name = request.operation_name.as_deref();
        let operation = operation(&cached.document, operation_name)?;
        super::variables::coerce(operation, &request.variables, &self.registry).ok()?;
        match plan.run(&self.api, &self.options.limits, &request.variables).await? {
            PlanAnswer::Json(json) => Some(Answer::Json(json)),
            PlanAnswer::Response(response) => {
                let mut response = code_response(response, &self.options.limits);
                complete(
                    &mut response,
                    &self.registry,
                    &cached.document,
                    operation_name,
                    &request.variables,
                );
                Some(Answer::Response(BatchResponse::Single(response)))
            }
        }
    }

    /// Executes one request: limits, (cached) parse, then async-graphql's own checks
    /// (recursion depth, directives, validation with its complexity and depth limits) and
    /// execution; every error in the answer carries `extensions.code`.
    ///
    /// Around async-graphql: variables are coerced first (a request error when they do not
    /// fit), and the answer is completed as the spec writes it ([`complete`]: selection order,
    /// nulls for failed fields, errors in document order).
    pub async fn execute(&self, mut request: Request) -> Response {
        let (prepared, operation_name, variables) = match self.prepare_request(&mut request) {
            Ok(prepared) => prepared,
            Err(errors) => return Response::from_errors(errors),
        };
        let mut response = code_response(self.schema.execute(request).await, &self.options.limits);
        self.finish(&mut response, &prepared, operation_name.as_deref(), &variables);
        response
    }

    /// Everything before execution: persisted query, limits, (cached) parse, the server's own
    /// validation and the variables. Returns the document and what completion needs.
    fn prepare_request(
        &self,
        request: &mut Request,
    ) -> Result<(Prepared, Option<String>, Variables), Vec<ServerError>> {
        self.resolve_persisted(request).map_err(|err| vec![err])?;
        let prepared = self.prepare(request)?;
        if let Some(operation) = operation(prepared.document(), request.operation_name.as_deref()) {
            super::variables::coerce(operation, &request.variables, &self.registry)?;
            // Defaults become values, as CoerceVariableValues has it: async-graphql reads
            // `@skip(if: $v)`/`@include(if: $v)` from the given variables only.
            super::variables::apply_defaults(operation, &mut request.variables);
        }
        Ok((prepared, request.operation_name.clone(), request.variables.clone()))
    }

    /// Completes a response of the general executor, and compiles the plan of its document
    /// once the document has proved valid.
    fn finish(
        &self,
        response: &mut Response,
        prepared: &Prepared,
        operation_name: Option<&str>,
        variables: &Variables,
    ) {
        complete(response, &self.registry, prepared.document(), operation_name, variables);
        if let Prepared::Cached(cached) = prepared
            && self.options.compiled_pages
            && !is_request_error(response)
        {
            cached
                .plan
                .get_or_init(|| compile(&cached.document, &self.options.limits, &self.registry));
        }
    }

    /// Executes a batch, each request as [`Executor::execute`] does.
    pub async fn execute_batch(&self, batch: BatchRequest) -> BatchResponse {
        match batch {
            BatchRequest::Single(request) => BatchResponse::Single(self.execute(request).await),
            BatchRequest::Batch(requests) => {
                let mut responses = Vec::with_capacity(requests.len());
                for request in requests {
                    responses.push(self.execute(request).await);
                }
                BatchResponse::Batch(responses)
            }
        }
    }

    /// Checks the query text and its document against the limits — for every request, cached
    /// document or not — and hands the parsed document to the request, so async-graphql does
    /// not parse it again. A document seen for the first time is compiled too, when it can
    /// be. Errors come coded.
    fn prepare(&self, request: &mut Request) -> Result<Prepared, Vec<ServerError>> {
        let limits = &self.options.limits;
        check_text(&request.query, limits).map_err(|err| vec![err])?;
        let cached = match self.documents.entry(&request.query) {
            Some(cached) => cached,
            None => {
                let document = parse_query(&request.query).map_err(|err| vec![code_parse_error(err.into(), limits)])?;
                check_document(&document, limits, self.options.introspection).map_err(|err| vec![err])?;
                // What async-graphql's own validation misses (`overlap`, `variable_positions`).
                // Only documents that pass are cached, so a cached one needs no second look.
                super::overlap::check(&document, &self.registry)?;
                super::variable_positions::check(&document, &self.registry)?;
                request.set_parsed_query(document.clone());
                return Ok(match self.documents.insert(&request.query, document) {
                    Ok(cached) => Prepared::Cached(cached),
                    Err(document) => Prepared::Owned(document),
                });
            }
        };
        check_document(&cached.document, limits, self.options.introspection).map_err(|err| vec![err])?;
        // The copy is execution's own (it edits it).
        request.set_parsed_query(cached.document.clone());
        Ok(Prepared::Cached(cached))
    }
}

/// The document a request runs, for what happens around its execution.
enum Prepared {
    Cached(Arc<Cached>),
    /// A document the cache does not keep (too long, or no cache).
    Owned(Box<ExecutableDocument>),
}

impl Prepared {
    fn document(&self) -> &ExecutableDocument {
        match self {
            Prepared::Cached(cached) => &cached.document,
            Prepared::Owned(document) => document,
        }
    }
}

/// The same executor for GraphQL over WebSocket (`/graphql/ws`): subscriptions and the
/// queries sent on the socket pass the same limits and come back with the same error codes.
impl async_graphql::Executor for Executor {
    async fn execute(&self, request: Request) -> Response {
        Executor::execute(self, request).await
    }

    fn execute_stream(
        &self,
        mut request: Request,
        session_data: Option<Arc<async_graphql::Data>>,
    ) -> futures::stream::BoxStream<'static, Response> {
        use futures::StreamExt;
        let (prepared, operation_name, variables) = match self.prepare_request(&mut request) {
            Ok(prepared) => prepared,
            Err(errors) => return futures::stream::once(async move { Response::from_errors(errors) }).boxed(),
        };
        let stream = match session_data {
            Some(data) => self.schema.execute_stream_with_session_data(request, data),
            None => self.schema.execute_stream(request),
        };
        let executor = self.clone();
        stream
            .map(move |response| {
                let mut response = code_response(response, &executor.options.limits);
                executor.finish(&mut response, &prepared, operation_name.as_deref(), &variables);
                response
            })
            .boxed()
    }
}

/// A bounded map from query text to its parsed document. Keyed by the whole text (hashed by
/// the map, compared in full), so two different texts can never share an entry; a document
/// depends on nothing but its text. When full, an arbitrary entry makes room: the working set
/// of a real client is a handful of queries, and a scan of many one-off queries only costs
/// the parses it would have cost anyway.
pub struct DocumentCache {
    entries: BoundedMap<Arc<str>, Arc<Cached>>,
}

/// A cached document and its compiled plan: compiled (or found not compilable) the first
/// time the general executor answers the document without a request error, i.e. once
/// async-graphql has validated it against the schema.
pub struct Cached {
    pub document: ExecutableDocument,
    pub plan: OnceLock<Option<Plan>>,
}

impl DocumentCache {
    /// A cache of at most `capacity` documents (0 = none kept).
    pub fn new(capacity: usize) -> Self {
        Self {
            entries: BoundedMap::new(capacity),
        }
    }

    /// The entry of `query`, when cached.
    pub fn entry(&self, query: &str) -> Option<Arc<Cached>> {
        self.entries.get(query)
    }

    /// A copy of the document of `query`, when cached.
    pub fn get(&self, query: &str) -> Option<ExecutableDocument> {
        self.entry(query).map(|cached| cached.document.clone())
    }

    /// Keeps the document of `query` (texts over [`MAX_CACHED_QUERY_BYTES`] are not kept: the
    /// document comes back).
    pub fn insert(&self, query: &str, document: ExecutableDocument) -> Result<Arc<Cached>, Box<ExecutableDocument>> {
        if self.entries.capacity() == 0 || query.len() > MAX_CACHED_QUERY_BYTES {
            return Err(Box::new(document));
        }
        let cached = Arc::new(Cached {
            document,
            plan: OnceLock::new(),
        });
        self.entries.insert(Arc::from(query), cached.clone());
        Ok(cached)
    }

    /// Documents held now.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no document is held.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::types::{DocumentOperations, Selection};

    use super::*;

    fn root_field(document: &ExecutableDocument) -> String {
        let DocumentOperations::Single(operation) = &document.operations else {
            panic!("one operation expected");
        };
        match &operation.node.selection_set.node.items[0].node {
            Selection::Field(field) => field.node.name.node.to_string(),
            _ => panic!("a field expected"),
        }
    }

    fn parse(query: &str) -> ExecutableDocument {
        parse_query(query).expect("query parses")
    }

    #[test]
    fn different_texts_never_share_an_entry() {
        let cache = DocumentCache::new(8);
        let queries = ["{ a }", "{ b }", "{ a } ", "{a}", "query { a }"];
        for query in queries {
            let _ = cache.insert(query, parse(query));
        }
        assert_eq!(cache.len(), queries.len());
        assert_eq!(root_field(&cache.get("{ a }").expect("cached")), "a");
        assert_eq!(root_field(&cache.get("{ b }").expect("cached")), "b");
        assert!(cache.get("{ c }").is_none(), "an unseen text is never answered");
        // Every entry answers its own text with its own document.
        for query in queries {
            let cached = cache.get(query).expect("cached");
            assert_eq!(format!("{cached:?}"), format!("{:?}", parse(query)), "{query}");
        }
    }

    #[test]
    fn the_cache_is_bounded() {
        let cache = DocumentCache::new(4);
        for i in 0..100 {
            let query = format!("{{ f{i} }}");
            let _ = cache.insert(&query, parse(&query));
            assert!(cache.len() <= 4);
        }
        // Whatever survived still answers its own text.
        for i in 0..100 {
            let query = format!("{{ f{i} }}");
            if let Some(document) = cache.get(&query) {
                assert_eq!(root_field(&document), format!("f{i}"));
            }
        }
        let long = format!("{{ a{} }}", " ".repeat(MAX_CACHED_QUERY_BYTES));
        let before = cache.len();
        let _ = cache.insert(&long, parse(&long));
        assert!(cache.get(&long).is_none(), "long texts are not kept");
        assert_eq!(cache.len(), before);
    }

    #[test]
    fn a_zero_capacity_cache_keeps_nothing() {
        let cache = DocumentCache::new(0);
        let _ = cache.insert("{ a }", parse("{ a }"));
        assert!(cache.get("{ a }").is_none());
        assert!(cache.is_empty());
    }
}
