package api

// RouteTable returns "METHOD path" of every authenticated route, for the
// tests of package api_test that compare the routes with the OpenAPI
// description.
func RouteTable() []string {
	out := make([]string, len(routes))
	for i, rt := range routes {
		out[i] = rt.method + " " + rt.path
	}
	return out
}

// OperatorRouteTable returns "METHOD path" of every operator route.
func OperatorRouteTable() []string {
	out := make([]string, len(operatorRoutes))
	for i, rt := range operatorRoutes {
		out[i] = rt.method + " " + rt.path
	}
	return out
}
