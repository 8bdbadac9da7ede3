// Copyright 2026 The vcap-sticky Authors. SPDX-License-Identifier: Apache-2.0

//go:build wasip1 && !tinygo && sdkabi_headers_only

package internal

// exportsOnDone: proxy_on_done is left out (callbacks_stream.go), so
// proxy_on_delete calls OnPluginDone for a plugin (callbacks.go).
const exportsOnDone = false
