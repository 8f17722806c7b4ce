// `import HealthImagingLocal` stays the one import a library user needs: the public types of the targets split out
// of it (Request, Response, Reply, HTTPServer; JSONValue; DICOMLimits, LosslessStorageFormat …) come with it.
@_exported import HealthImagingDICOM
@_exported import HealthImagingHTTP
@_exported import HealthImagingJSON
