//! The WSDL 1.1 document for the four operations, served by the sandbox at `?wsdl` and loaded
//! by off-the-shelf clients (tests/soap_zeep.rs proves it with Python zeep).
//!
//! Document/literal wrapped: the wrapper elements carry the operation names, so PHP's
//! `SoapClient` and zeep both call `logIn(request=...)` and read `logInResult`, as the seed's
//! example does. `code` and the detail codes are `xsd:string` as in the seed; `price` is
//! `xsd:decimal` (the seed says float) so that clients send exact digits.

use super::NAMESPACE;

const TEMPLATE: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<definitions name="MobilpayPayment"
    targetNamespace="{NS}"
    xmlns="http://schemas.xmlsoap.org/wsdl/"
    xmlns:soap="http://schemas.xmlsoap.org/wsdl/soap/"
    xmlns:xsd="http://www.w3.org/2001/XMLSchema"
    xmlns:tns="{NS}">
  <types>
    <xsd:schema targetNamespace="{NS}" elementFormDefault="qualified">
      <xsd:complexType name="LogInRequest">
        <xsd:sequence>
          <xsd:element name="username" type="xsd:string"/>
          <xsd:element name="password" type="xsd:string"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="LogInResult">
        <xsd:sequence>
          <xsd:element name="id" type="xsd:string"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="CancelRecurrenceRequest">
        <xsd:sequence>
          <xsd:element name="sessionId" type="xsd:string"/>
          <xsd:element name="sacId" type="xsd:string"/>
          <xsd:element name="orderId" type="xsd:string"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="ModifyRecurrencePriceRequest">
        <xsd:sequence>
          <xsd:element name="sessionId" type="xsd:string"/>
          <xsd:element name="sacId" type="xsd:string"/>
          <xsd:element name="orderId" type="xsd:string"/>
          <xsd:element name="price" type="xsd:decimal"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="MoveRecurrenceRequest">
        <xsd:sequence>
          <xsd:element name="sessionId" type="xsd:string"/>
          <xsd:element name="sacId" type="xsd:string"/>
          <xsd:element name="orderId" type="xsd:string"/>
          <xsd:element name="recurrenceDate" type="xsd:string"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="ErrorDetail">
        <xsd:sequence>
          <xsd:element name="code" type="xsd:string"/>
          <xsd:element name="message" type="xsd:string"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="ErrorDetailList">
        <xsd:sequence>
          <xsd:element name="item" type="tns:ErrorDetail" minOccurs="0" maxOccurs="unbounded"/>
        </xsd:sequence>
      </xsd:complexType>
      <xsd:complexType name="RecurrenceResult">
        <xsd:sequence>
          <xsd:element name="action" type="xsd:string"/>
          <xsd:element name="code" type="xsd:string"/>
          <xsd:element name="message" type="xsd:string"/>
          <xsd:element name="details" type="tns:ErrorDetailList"/>
        </xsd:sequence>
      </xsd:complexType>
{ELEMENTS}    </xsd:schema>
  </types>
{MESSAGES}  <portType name="PaymentPortType">
{PORT_OPERATIONS}  </portType>
  <binding name="PaymentBinding" type="tns:PaymentPortType">
    <soap:binding style="document" transport="http://schemas.xmlsoap.org/soap/http"/>
{BINDING_OPERATIONS}  </binding>
  <service name="PaymentService">
    <port name="PaymentPort" binding="tns:PaymentBinding">
      <soap:address location="{LOCATION}"/>
    </port>
  </service>
</definitions>
"#;

/// (operation, request type, result type)
const OPERATIONS: [(&str, &str, &str); 4] = [
    ("logIn", "LogInRequest", "LogInResult"),
    (
        "cancelRecurrence",
        "CancelRecurrenceRequest",
        "RecurrenceResult",
    ),
    (
        "modifyRecurrencePrice",
        "ModifyRecurrencePriceRequest",
        "RecurrenceResult",
    ),
    (
        "moveRecurrence",
        "MoveRecurrenceRequest",
        "RecurrenceResult",
    ),
];

/// The WSDL with `service_url` (e.g. `http://127.0.0.1:9090/netopia/api/payment`) as the
/// endpoint every operation is posted to.
pub fn wsdl(service_url: &str) -> String {
    let mut elements = String::new();
    let mut messages = String::new();
    let mut port_operations = String::new();
    let mut binding_operations = String::new();
    for (op, request_type, result_type) in OPERATIONS {
        elements.push_str(&format!(
            r#"      <xsd:element name="{op}">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="request" type="tns:{request_type}"/>
          </xsd:sequence>
        </xsd:complexType>
      </xsd:element>
      <xsd:element name="{op}Response">
        <xsd:complexType>
          <xsd:sequence>
            <xsd:element name="{op}Result" type="tns:{result_type}"/>
          </xsd:sequence>
        </xsd:complexType>
      </xsd:element>
"#
        ));
        messages.push_str(&format!(
            r#"  <message name="{op}Input">
    <part name="parameters" element="tns:{op}"/>
  </message>
  <message name="{op}Output">
    <part name="parameters" element="tns:{op}Response"/>
  </message>
"#
        ));
        port_operations.push_str(&format!(
            r#"    <operation name="{op}">
      <input message="tns:{op}Input"/>
      <output message="tns:{op}Output"/>
    </operation>
"#
        ));
        binding_operations.push_str(&format!(
            r#"    <operation name="{op}">
      <soap:operation soapAction="{NAMESPACE}#{op}" style="document"/>
      <input><soap:body use="literal"/></input>
      <output><soap:body use="literal"/></output>
    </operation>
"#
        ));
    }
    TEMPLATE
        .replace("{ELEMENTS}", &elements)
        .replace("{MESSAGES}", &messages)
        .replace("{PORT_OPERATIONS}", &port_operations)
        .replace("{BINDING_OPERATIONS}", &binding_operations)
        .replace("{NS}", NAMESPACE)
        .replace("{LOCATION}", &quick_xml::escape::escape(service_url))
}
