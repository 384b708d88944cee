// GraphiQL for /graphql, from the vendored bundle (no other host is contacted). Requests
// carry the API token the dashboard and explorer keep in this tab's session storage; the
// headers tab of GraphiQL can override it.
'use strict';

(function () {
  let token = '';
  try {
    token = sessionStorage.getItem('domainflow.token') || '';
  } catch {
    // Storage disabled: no token.
  }
  const fetcher = GraphiQL.createFetcher({
    url: '/graphql',
    headers: token ? { Authorization: `Bearer ${token}` } : {},
  });
  const defaultQuery = `# DomainFlow campaign API. Ctrl-Enter runs the query; Docs (left) lists every field.
{
  campaigns(first: 5) {
    totalCount
    nodes { id name campaignType status }
    pageInfo { hasNextPage endCursor }
  }
}
`;
  const root = ReactDOM.createRoot(document.getElementById('graphiql'));
  root.render(React.createElement(GraphiQL, { fetcher, defaultQuery, defaultEditorToolsVisibility: true }));
})();
